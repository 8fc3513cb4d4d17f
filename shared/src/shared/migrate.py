"""Alembic migrations per service: ``python -m shared.migrate upgrade catalog``.

One ``env.py`` (``shared/alembic``) serves every service; each service keeps its revisions
in ``<service>/migrations/versions`` and its tables in ``<service>.models.Base.metadata``.
The database URL comes from ``<SERVICE>_DATABASE_URL`` unless ``--database-url`` is given.
"""

import argparse
import importlib

from alembic import command
from alembic.config import Config
from sqlalchemy import MetaData

from shared.db import KitBase
from shared.settings import ServiceSettings


def alembic_config(service: str, database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", "shared:alembic")
    config.set_main_option("version_locations", f"{service}:migrations/versions")
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    config.attributes["service"] = service
    return config


def target_metadata(service: str) -> list[MetaData]:
    for kit in ("shared.outbox", "shared.inbox", "shared.probes"):  # they declare kit tables
        importlib.import_module(kit)
    models = importlib.import_module(f"{service}.models")  # the service's own tables
    return [KitBase.metadata, models.Base.metadata]


def upgrade(service: str, database_url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(service, database_url), revision)


def main() -> None:
    parser = argparse.ArgumentParser(description="Run a service's database migrations")
    parser.add_argument("action", choices=["upgrade", "downgrade", "revision", "current"])
    parser.add_argument("service")
    parser.add_argument("--database-url")
    parser.add_argument("--revision", default="head")
    parser.add_argument("-m", "--message", default="change")
    args = parser.parse_args()
    url = args.database_url or ServiceSettings(_env_prefix=f"{args.service.upper()}_").database_url
    config = alembic_config(args.service, url)
    if args.action == "upgrade":
        command.upgrade(config, args.revision)
    elif args.action == "downgrade":
        command.downgrade(config, args.revision)
    elif args.action == "current":
        command.current(config)
    else:
        command.revision(config, message=args.message, autogenerate=True)


if __name__ == "__main__":
    main()
