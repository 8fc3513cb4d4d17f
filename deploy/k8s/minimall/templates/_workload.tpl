{{/*
One Deployment: the gateway, a service's HTTP pods, its consumer or its relay.
Context: root, service, conf (the component's values), role (http|consumer|relay), command.
*/}}
{{- define "minimall.deployment" -}}
{{- $root := .root -}}
{{- $cfg := fromYaml (include "minimall.roleConfig" .) -}}
{{- $labels := dict "root" $root "service" .service "role" .role -}}
{{- $isHttp := eq .role "http" -}}
{{- /* The flash-sale consumer (flashsale-consumer.yaml) is autoscaled too. */ -}}
{{- $keda := and (or (eq .role "consumer") (eq .role "flash-sale")) $root.Values.keda.enabled -}}
{{- $hpa := and (or $isHttp (eq .role "flash-sale")) $cfg.hpa $cfg.hpa.enabled -}}
{{- $port := $cfg.port | default $root.Values.defaults.http.port -}}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "minimall.name" $labels }}
  namespace: {{ $root.Release.Namespace }}
  labels:
{{ include "minimall.labels" $labels | indent 4 }}
spec:
{{- if not (or $hpa $keda) }}
  replicas: {{ $cfg.replicas }}
{{- end }}
  revisionHistoryLimit: 5
  strategy:
    type: RollingUpdate
    rollingUpdate:
      maxSurge: 25%
      maxUnavailable: 0
  selector:
    matchLabels:
{{ include "minimall.selectorLabels" $labels | indent 6 }}
  template:
    metadata:
      labels:
{{ include "minimall.labels" $labels | indent 8 }}
      annotations:
        checksum/config: {{ include "minimall.configData" . | sha256sum }}
{{- with .conf.podAnnotations }}
{{ toYaml . | indent 8 }}
{{- end }}
    spec:
{{ include "minimall.podCommon" (dict "root" $root "serviceAccount" (include "minimall.serviceAccountName" .)) | indent 6 }}
      terminationGracePeriodSeconds: {{ $cfg.terminationGracePeriodSeconds }}
{{ include "minimall.topologySpread" $labels | indent 6 }}
      containers:
        - name: {{ .role }}
          image: {{ include "minimall.image" . }}
          imagePullPolicy: {{ $root.Values.image.pullPolicy }}
          command:
{{ toYaml .command | indent 12 }}
{{ include "minimall.env" . | indent 10 }}
          ports:
{{- if $isHttp }}
            - name: http
              containerPort: {{ $port }}
              protocol: TCP
{{- else }}
            - name: metrics
              containerPort: {{ $root.Values.defaults.workerMetricsPort }}
              protocol: TCP
{{- end }}
{{- if $isHttp }}
          startupProbe:
            httpGet: {path: /healthz, port: http}
{{ toYaml $cfg.probes.startup | indent 12 }}
          livenessProbe:
            httpGet: {path: /healthz, port: http}
{{ toYaml $cfg.probes.liveness | indent 12 }}
          readinessProbe:
            httpGet: {path: /readyz, port: http}
{{ toYaml $cfg.probes.readiness | indent 12 }}
          lifecycle:
            preStop:
              exec:
                command: ["sleep", "{{ $cfg.preStopSleepSeconds }}"]
{{- else }}
          # Workers serve Prometheus metrics on every path from a thread of their own.
          startupProbe:
            httpGet: {path: /metrics, port: metrics}
            periodSeconds: 2
            failureThreshold: 60
            timeoutSeconds: 3
          livenessProbe:
            httpGet: {path: /metrics, port: metrics}
            periodSeconds: 15
            failureThreshold: 3
            timeoutSeconds: 3
          readinessProbe:
            httpGet: {path: /metrics, port: metrics}
            periodSeconds: 10
            failureThreshold: 3
            timeoutSeconds: 3
{{- end }}
          resources:
{{ toYaml $cfg.resources | indent 12 }}
          securityContext:
{{ toYaml $root.Values.containerSecurityContext | indent 12 }}
          volumeMounts:
            - name: tmp
              mountPath: /tmp
{{- with .conf.extraVolumeMounts }}
{{ toYaml . | indent 12 }}
{{- end }}
      volumes:
{{ include "minimall.tmpVolume" . | indent 8 }}
{{- with .conf.extraVolumes }}
{{ toYaml . | indent 8 }}
{{- end }}
{{- end -}}

{{/* The server command of an HTTP component: granian for the gateway (its hot path), uvicorn
for services. */}}
{{- define "minimall.httpCommand" -}}
{{- $cfg := fromYaml (include "minimall.roleConfig" (dict "root" .root "conf" .conf "role" "http")) -}}
{{- if eq .service "gateway" }}
- granian
- --interface
- asgi
- --factory
- --host
- 0.0.0.0
- --port
- {{ $cfg.port | quote }}
- --loop
- uvloop
- --workers-kill-timeout
- {{ $cfg.gracefulShutdownSeconds | quote }}
- --no-ws
- gateway.main:create_app
{{- else }}
- uvicorn
- {{ printf "%s.main:create_app" .service }}
- --factory
- --host
- 0.0.0.0
- --port
- {{ $cfg.port | quote }}
- --timeout-graceful-shutdown
- {{ $cfg.gracefulShutdownSeconds | quote }}
- --no-server-header
- --no-proxy-headers
{{- end }}
{{- end -}}
