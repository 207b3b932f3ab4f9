"""The Alembic migrations and the models describe the same schema, on both backends."""

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from services.db import make_engine
from services.models import Base


@pytest.mark.db
def test_migrations_at_head_match_the_models(db_url: str) -> None:
    engine = make_engine(db_url)
    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    engine.dispose()
    assert diff == [], "models.py changed without a migration: run scripts/regen-initial-migration.sh"


@pytest.mark.db
def test_uniqueness_constraints_exist(db_url: str) -> None:
    engine = make_engine(db_url)
    inspector = inspect(engine)
    uniques = {
        table: {tuple(u["column_names"]) for u in inspector.get_unique_constraints(table)}
        for table in ("articles", "article_versions", "webhook_deliveries")
    }
    engine.dispose()
    assert ("feed_id", "entry_key") in uniques["articles"]
    assert ("article_id", "content_hash") in uniques["article_versions"]
    assert ("subscription_id", "event_id") in uniques["webhook_deliveries"]
