"""What every PostgreSQL connection asks of libpq and of the server, and that a URL's own value wins."""

from __future__ import annotations

from sqlalchemy import make_url

from syncd.store.database import postgres_connect_args


def test_each_session_bounds_statements_silent_transactions_and_dead_peers() -> None:
    args = postgres_connect_args(make_url("postgresql+psycopg://syncd@db.internal/syncd"))
    assert args["options"] == "-c statement_timeout=60000 -c idle_in_transaction_session_timeout=10000"
    assert args["connect_timeout"] == 10
    assert (args["keepalives_idle"], args["keepalives_interval"], args["keepalives_count"]) == (30, 10, 3)
    assert args["tcp_user_timeout"] == 30000


def test_the_urls_own_options_and_settings_win_and_are_kept() -> None:
    url = make_url(
        "postgresql+psycopg://syncd@db/syncd?connect_timeout=3"
        "&options=-csearch_path%3Dkpis%20-c%20idle_in_transaction_session_timeout%3D0"
    )
    args = postgres_connect_args(url)
    assert "connect_timeout" not in args  # the URL's 3 reaches libpq as it is
    # Replacing the URL's options would lose its search_path: ours are appended, theirs kept.
    assert args["options"] == "-csearch_path=kpis -c idle_in_transaction_session_timeout=0 -c statement_timeout=60000"
