{{/* Names: <release>-<service>[-<role>]. */}}
{{- define "minimall.prefix" -}}
{{- .Release.Name | trunc 30 | trimSuffix "-" -}}
{{- end -}}

{{- define "minimall.name" -}}
{{- $prefix := include "minimall.prefix" .root -}}
{{- if or (eq .role "http") (eq .role "") -}}
{{- printf "%s-%s" $prefix .service -}}
{{- else -}}
{{- printf "%s-%s-%s" $prefix .service .role -}}
{{- end -}}
{{- end -}}

{{- define "minimall.selectorLabels" -}}
app.kubernetes.io/name: minimall
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ printf "%s-%s" .service .role }}
{{- end -}}

{{- define "minimall.labels" -}}
{{ include "minimall.selectorLabels" . }}
app.kubernetes.io/part-of: minimall
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version }}
minimall.io/service: {{ .service }}
minimall.io/role: {{ .role }}
{{- end -}}

{{/* Labels of things that belong to the release but to no component. */}}
{{- define "minimall.releaseLabels" -}}
app.kubernetes.io/name: minimall
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/part-of: minimall
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* A role's settings: defaults.<role> overridden by the component's own block. */}}
{{- define "minimall.roleConfig" -}}
{{- $defaults := get .root.Values.defaults .role | default dict -}}
{{- $own := get .conf .role | default dict -}}
{{- toYaml (mustMergeOverwrite (deepCopy $defaults) (deepCopy $own)) -}}
{{- end -}}

{{/* The image of a component; `latest` is refused. */}}
{{- define "minimall.image" -}}
{{- $image := .root.Values.image -}}
{{- $tag := $image.tag | default .root.Chart.AppVersion | toString -}}
{{- if eq $tag "latest" -}}
{{- fail "image.tag: `latest` is not allowed; pin a version or a digest" -}}
{{- end -}}
{{- $repository := printf "%s/%s%s" $image.registry $image.prefix .service -}}
{{- if $image.digest -}}
{{- printf "%s@%s" $repository $image.digest -}}
{{- else -}}
{{- printf "%s:%s" $repository $tag -}}
{{- end -}}
{{- end -}}

{{- define "minimall.postgresSecret" -}}
{{- if .Values.postgresql.urls -}}
{{- printf "%s-postgresql" (include "minimall.prefix" .) -}}
{{- else -}}
{{- required "postgresql.existingSecret (or postgresql.urls) is required" .Values.postgresql.existingSecret -}}
{{- end -}}
{{- end -}}

{{- define "minimall.redisSecret" -}}
{{- if .Values.redis.urls -}}
{{- printf "%s-redis" (include "minimall.prefix" .) -}}
{{- else -}}
{{- required "redis.existingSecret (or redis.urls) is required" .Values.redis.existingSecret -}}
{{- end -}}
{{- end -}}

{{/* Plain settings of a service (or the gateway), the data of its ConfigMap. */}}
{{- define "minimall.configData" -}}
{{- $root := .root -}}
{{- $p := printf "%s_" (upper .service) -}}
{{- $http := fromYaml (include "minimall.roleConfig" (dict "root" $root "conf" .conf "role" "http")) -}}
{{ $p }}HTTP_HOST: "0.0.0.0"
{{ $p }}HTTP_PORT: {{ $http.port | quote }}
{{ $p }}SHUTDOWN_DRAIN_S: {{ $http.drainSeconds | quote }}
{{ $p }}LOG_LEVEL: {{ $root.Values.defaults.logLevel | quote }}
{{ $p }}LOG_JSON: "true"
{{- if eq .service "gateway" }}
GATEWAY_UPSTREAMS: {{ include "minimall.upstreams" $root | quote }}
{{- else }}
{{ $p }}WORKER_METRICS_PORT: {{ $root.Values.defaults.workerMetricsPort | quote }}
{{ $p }}DATABASE_POOL_SIZE: {{ $root.Values.postgresql.poolSize | quote }}
{{ $p }}KAFKA_BOOTSTRAP_SERVERS: {{ $root.Values.kafka.bootstrapServers | quote }}
{{ $p }}KAFKA_ENABLE_IDEMPOTENCE: {{ $root.Values.kafka.enableIdempotence | quote }}
{{ $p }}KAFKA_TOPIC_PARTITIONS: {{ $root.Values.kafka.topicPartitions | quote }}
{{ $p }}KAFKA_TOPIC_REPLICATION: {{ $root.Values.kafka.topicReplication | quote }}
{{- $self := .service }}
{{- range $other, $svc := $root.Values.services }}
{{- if and $svc.enabled (ne $other $self) }}
{{ $p }}{{ upper $other }}_URL: {{ printf "http://%s:%v" (include "minimall.name" (dict "root" $root "service" $other "role" "http")) $root.Values.defaults.http.port | quote }}
{{- end }}
{{- end }}
{{- end }}
{{- range $key, $value := .conf.env }}
{{ $key }}: {{ $value | toString | quote }}
{{- end }}
{{- end -}}

{{/* GATEWAY_UPSTREAMS: every enabled service's in-cluster URL. */}}
{{- define "minimall.upstreams" -}}
{{- $upstreams := dict -}}
{{- range $name, $svc := .Values.services -}}
{{- if $svc.enabled -}}
{{- $_ := set $upstreams $name (printf "http://%s:%v" (include "minimall.name" (dict "root" $ "service" $name "role" "http")) $.Values.defaults.http.port) -}}
{{- end -}}
{{- end -}}
{{- toJson $upstreams -}}
{{- end -}}

{{/* envFrom and env of every container of a service: ConfigMap, then Secrets, then extras. */}}
{{- define "minimall.env" -}}
{{- $root := .root -}}
{{- $p := printf "%s_" (upper .service) -}}
envFrom:
  - configMapRef:
      name: {{ include "minimall.name" (dict "root" $root "service" .service "role" "env") }}
{{- with .conf.envFrom }}
{{ toYaml . | indent 2 }}
{{- end }}
env:
{{- if ne .service "gateway" }}
  - name: {{ $p }}DATABASE_URL
    valueFrom:
      secretKeyRef:
        name: {{ include "minimall.postgresSecret" $root }}
        key: {{ .service }}-database-url
{{- end }}
  - name: {{ $p }}REDIS_URL
    valueFrom:
      secretKeyRef:
        name: {{ include "minimall.redisSecret" $root }}
        key: {{ .service }}-redis-url
{{- range $name, $ref := .conf.secretEnv }}
  - name: {{ $name }}
    valueFrom:
      secretKeyRef:
        name: {{ required (printf "secretEnv.%s.secret is required" $name) $ref.secret }}
        key: {{ required (printf "secretEnv.%s.key is required" $name) $ref.key }}
        {{- if hasKey $ref "optional" }}
        optional: {{ $ref.optional }}
        {{- end }}
{{- end }}
{{- with .conf.extraEnv }}
{{ toYaml . | indent 2 }}
{{- end }}
{{- end -}}

{{/* Pod-level settings shared by every workload. */}}
{{- define "minimall.podCommon" -}}
{{- $root := .root -}}
serviceAccountName: {{ .serviceAccount }}
automountServiceAccountToken: {{ .automount | default false }}
enableServiceLinks: false
securityContext:
{{ toYaml $root.Values.podSecurityContext | indent 2 }}
{{- with $root.Values.imagePullSecrets }}
imagePullSecrets:
{{ toYaml . | indent 2 }}
{{- end }}
{{- with $root.Values.defaults.nodeSelector }}
nodeSelector:
{{ toYaml . | indent 2 }}
{{- end }}
{{- with $root.Values.defaults.tolerations }}
tolerations:
{{ toYaml . | indent 2 }}
{{- end }}
{{- with $root.Values.defaults.affinity }}
affinity:
{{ toYaml . | indent 2 }}
{{- end }}
{{- end -}}

{{- define "minimall.topologySpread" -}}
{{- $ctx := . -}}
{{- with .root.Values.defaults.topologySpread }}
topologySpreadConstraints:
{{- range . }}
  - topologyKey: {{ .topologyKey }}
    maxSkew: {{ .maxSkew }}
    whenUnsatisfiable: {{ .whenUnsatisfiable }}
    labelSelector:
      matchLabels:
{{ include "minimall.selectorLabels" $ctx | indent 8 }}
{{- end }}
{{- end }}
{{- end -}}

{{/* Writable scratch space: the root filesystem is read-only. */}}
{{- define "minimall.tmpVolume" -}}
- name: tmp
  emptyDir:
    sizeLimit: 64Mi
{{- end -}}

{{- define "minimall.serviceAccountName" -}}
{{- if .root.Values.serviceAccount.create -}}
{{- include "minimall.name" (dict "root" .root "service" .service "role" "http") -}}
{{- else -}}
default
{{- end -}}
{{- end -}}
