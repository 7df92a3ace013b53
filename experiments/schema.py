"""Registry schema as an ordered list of migrations; the applied version is kept in schema_migrations.

Every table the registry owns is created here, so all registry DDL lives in one place (SQLite today,
the same statements translate to Spark SQL later).
"""
from __future__ import annotations

# The registry tables mirrored column-wise for analysis (experiments/fact_mirror.py): a delete or an update of
# any of their rows bumps the table's epoch (an insert is seen by its rowid), so a stale mirror is always noticed.
FACT_TABLES = ("assignments", "outcomes", "deliveries", "cohorts", "opt_outs")
FACT_TRIGGERS: dict[str, str] = {
    f"{table}_fact_{event.lower()}": f"CREATE TRIGGER {table}_fact_{event.lower()} AFTER {event} ON {table} "
                                     f"BEGIN UPDATE fact_epochs SET epoch = epoch + 1 WHERE table_name = '{table}'; END"
    for table in FACT_TABLES for event in ("DELETE", "UPDATE")
}

MIGRATIONS: list[tuple[int, str, str]] = [
    (
        1,
        "initial registry",
        """
        CREATE TABLE treatments (
            key TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            kind TEXT NOT NULL CHECK (kind IN ('coupon','vip_service','recommendation','care_content','other')),
            unit_cost REAL NOT NULL CHECK (unit_cost >= 0),
            capacity INTEGER CHECK (capacity IS NULL OR capacity >= 0),
            created_at TEXT NOT NULL
        );
        CREATE TABLE metrics (
            key TEXT PRIMARY KEY,
            kind TEXT NOT NULL CHECK (kind IN ('binary','continuous')),
            higher_is_better INTEGER NOT NULL DEFAULT 1 CHECK (higher_is_better IN (0, 1)),
            description TEXT NOT NULL DEFAULT ''
        );
        CREATE TABLE experiments (
            key TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            hypothesis TEXT NOT NULL DEFAULT '',
            owner TEXT NOT NULL DEFAULT '',
            target_cohort TEXT,
            primary_metric TEXT NOT NULL,
            guardrail_metrics TEXT NOT NULL DEFAULT '[]',
            layer TEXT NOT NULL DEFAULT 'default',
            coverage REAL NOT NULL DEFAULT 1.0 CHECK (coverage >= 0 AND coverage <= 1),
            hash_version INTEGER NOT NULL DEFAULT 2 CHECK (hash_version IN (1, 2)),
            status TEXT NOT NULL DEFAULT 'draft'
                CHECK (status IN ('draft','running','stopped','concluded')),
            created_at TEXT NOT NULL,
            started_at TEXT,
            stopped_at TEXT,
            concluded_at TEXT
        );
        CREATE TABLE arms (
            experiment_key TEXT NOT NULL REFERENCES experiments(key),
            arm_key TEXT NOT NULL,
            position INTEGER NOT NULL,
            treatment_key TEXT REFERENCES treatments(key),
            weight REAL NOT NULL CHECK (weight > 0),
            is_control INTEGER NOT NULL DEFAULT 0 CHECK (is_control IN (0, 1)),
            PRIMARY KEY (experiment_key, arm_key),
            UNIQUE (experiment_key, position)
        );
        CREATE TABLE assignments (
            experiment_key TEXT NOT NULL REFERENCES experiments(key),
            user_id TEXT NOT NULL,
            arm_key TEXT NOT NULL,
            assigned_at TEXT NOT NULL,
            PRIMARY KEY (experiment_key, user_id)
        );
        CREATE INDEX assignments_user ON assignments(user_id, assigned_at);
        CREATE TABLE deliveries (
            experiment_key TEXT NOT NULL REFERENCES experiments(key),
            user_id TEXT NOT NULL,
            treatment_key TEXT NOT NULL REFERENCES treatments(key),
            sent_at TEXT NOT NULL,
            cost REAL NOT NULL CHECK (cost >= 0),
            channel TEXT,
            PRIMARY KEY (experiment_key, user_id, treatment_key, sent_at)
        );
        CREATE TABLE outcomes (
            experiment_key TEXT NOT NULL REFERENCES experiments(key),
            user_id TEXT NOT NULL,
            metric TEXT NOT NULL,
            period TEXT NOT NULL DEFAULT 'post' CHECK (period IN ('pre','post')),
            value REAL NOT NULL,
            observed_at TEXT NOT NULL,
            PRIMARY KEY (experiment_key, user_id, metric, period)
        );
        CREATE TABLE decisions (
            id INTEGER PRIMARY KEY,
            experiment_key TEXT NOT NULL REFERENCES experiments(key),
            winner_arm TEXT NOT NULL,
            rationale TEXT NOT NULL,
            decided_by TEXT NOT NULL,
            decided_at TEXT NOT NULL
        );
        CREATE TABLE opt_outs (
            user_id TEXT PRIMARY KEY,
            reason TEXT NOT NULL DEFAULT '',
            opted_out_at TEXT NOT NULL
        );
        CREATE TABLE cohorts (
            cohort_key TEXT NOT NULL,
            user_id TEXT NOT NULL,
            risk REAL,
            stage TEXT,
            tier TEXT,
            reason TEXT,
            model TEXT,
            scored_at TEXT,
            PRIMARY KEY (cohort_key, user_id)
        );
        CREATE TABLE models (
            name TEXT PRIMARY KEY,
            kind TEXT NOT NULL CHECK (kind IN ('churn','uplift')),
            experiment_key TEXT,
            learner TEXT NOT NULL,
            features TEXT NOT NULL,
            fingerprint TEXT NOT NULL,
            metrics TEXT NOT NULL DEFAULT '{}',
            path TEXT NOT NULL,
            created_at TEXT NOT NULL
        );
        CREATE TABLE audit_log (
            id INTEGER PRIMARY KEY,
            at TEXT NOT NULL,
            actor TEXT NOT NULL,
            action TEXT NOT NULL,
            object_type TEXT NOT NULL,
            object_key TEXT NOT NULL,
            detail TEXT NOT NULL DEFAULT '{}'
        );
        CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
            BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
        CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
            BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
        CREATE TRIGGER arms_frozen_insert BEFORE INSERT ON arms
            WHEN (SELECT status FROM experiments WHERE key = NEW.experiment_key) != 'draft'
            BEGIN SELECT RAISE(ABORT, 'arms cannot change once an experiment has started'); END;
        CREATE TRIGGER arms_frozen_update BEFORE UPDATE ON arms
            WHEN (SELECT status FROM experiments WHERE key = OLD.experiment_key) != 'draft'
            BEGIN SELECT RAISE(ABORT, 'arms cannot change once an experiment has started'); END;
        CREATE TRIGGER arms_frozen_delete BEFORE DELETE ON arms
            WHEN (SELECT status FROM experiments WHERE key = OLD.experiment_key) != 'draft'
            BEGIN SELECT RAISE(ABORT, 'arms cannot change once an experiment has started'); END;
        """,
    ),
    (
        2,
        "value of one retained user per experiment",
        """
        ALTER TABLE experiments ADD COLUMN value_per_retained REAL
            CHECK (value_per_retained IS NULL OR value_per_retained >= 0);
        """,
    ),
    (
        3,
        "import batches (list and undo), unit costs and metric kinds frozen when an experiment starts",
        """
        CREATE TABLE import_batches (
            id INTEGER PRIMARY KEY,
            kind TEXT NOT NULL CHECK (kind IN ('deliveries','outcomes')),
            source TEXT NOT NULL,
            experiment_keys TEXT NOT NULL DEFAULT '[]',
            rows_read INTEGER NOT NULL,
            inserted INTEGER NOT NULL,
            imported_at TEXT NOT NULL,
            imported_by TEXT NOT NULL,
            undone_at TEXT,
            undone_by TEXT
        );
        ALTER TABLE deliveries ADD COLUMN import_id INTEGER REFERENCES import_batches(id);
        ALTER TABLE outcomes ADD COLUMN import_id INTEGER REFERENCES import_batches(id);
        CREATE INDEX deliveries_import ON deliveries(import_id);
        CREATE INDEX outcomes_import ON outcomes(import_id);
        ALTER TABLE arms ADD COLUMN unit_cost REAL CHECK (unit_cost IS NULL OR unit_cost >= 0);
        ALTER TABLE experiments ADD COLUMN metric_kinds TEXT;
        ALTER TABLE decisions ADD COLUMN override TEXT;
        """,
    ),
    (
        20,
        "web UI users and API tokens",
        """
        CREATE TABLE users (
            name TEXT PRIMARY KEY,
            password_hash TEXT NOT NULL,
            role TEXT NOT NULL CHECK (role IN ('growth','finance','strategy','admin')),
            created_at TEXT NOT NULL,
            disabled_at TEXT
        );
        CREATE TABLE api_tokens (
            id INTEGER PRIMARY KEY,
            token_hash TEXT NOT NULL UNIQUE,
            user_name TEXT NOT NULL REFERENCES users(name),
            label TEXT NOT NULL DEFAULT '',
            created_at TEXT NOT NULL,
            revoked_at TEXT
        );
        """,
    ),
    (
        21,
        "analysis snapshots read by the web UI",
        """
        CREATE TABLE analysis_snapshots (
            id INTEGER PRIMARY KEY,
            experiment_key TEXT NOT NULL REFERENCES experiments(key),
            engine TEXT NOT NULL,
            method TEXT NOT NULL,
            cuped INTEGER NOT NULL CHECK (cuped IN (0, 1)),
            segment_by TEXT,
            options TEXT NOT NULL DEFAULT '{}',
            created_at TEXT NOT NULL,
            created_by TEXT NOT NULL,
            report TEXT NOT NULL,
            rows TEXT NOT NULL,
            health TEXT NOT NULL DEFAULT '[]',
            cumulative TEXT NOT NULL DEFAULT '[]'
        );
        CREATE INDEX analysis_snapshots_lookup ON analysis_snapshots(experiment_key, method, cuped, segment_by, id);
        """,
    ),
    (
        22,
        "analysis snapshots keep the recommended winner and what blocks each arm (experiments.decisions.advise)",
        """
        ALTER TABLE analysis_snapshots ADD COLUMN recommendation TEXT;
        """,
    ),
    (
        30,
        "warehouse-native metrics: a metric computed from behaviour events in a window after assignment",
        """
        CREATE TABLE metric_events (
            metric_key TEXT PRIMARY KEY REFERENCES metrics(key),
            event_type TEXT NOT NULL,
            value TEXT NOT NULL CHECK (value IN ('any', 'count', 'amount')),
            window_days INTEGER NOT NULL CHECK (window_days BETWEEN 1 AND 3650)
        );
        """,
    ),
    (
        31,
        "fact mirror bookkeeping: a random registry id, and change epochs that triggers bump on every delete or update "
        "of a mirrored fact table (experiments/fact_mirror.py; inserts are found by rowid, so they cost nothing)",
        """
        CREATE TABLE registry_identity (id TEXT NOT NULL);
        INSERT INTO registry_identity (id) VALUES (lower(hex(randomblob(16))));
        CREATE TABLE fact_epochs (table_name TEXT PRIMARY KEY, epoch INTEGER NOT NULL DEFAULT 0);
        INSERT INTO fact_epochs (table_name) VALUES ('assignments'), ('outcomes'), ('deliveries'), ('cohorts'),
            ('opt_outs');
        """ + ";\n".join(FACT_TRIGGERS.values()) + ";",
    ),
    (
        32,
        "stored cohort summaries (experiments/cohort_store.py): the Overview page and cohort list read them, not every user",
        """
        CREATE TABLE cohort_summaries (watermark INTEGER NOT NULL, epoch INTEGER NOT NULL, summary TEXT NOT NULL);
        """,
    ),
    (
        40,
        "targeting plans: a budget allocation recorded as an experiment whose holdout is the control",
        """
        CREATE TABLE plans (
            key TEXT PRIMARY KEY REFERENCES experiments(key),
            source_experiment TEXT,
            model TEXT,
            objective TEXT NOT NULL CHECK (objective IN ('retained','value')),
            budget REAL NOT NULL CHECK (budget >= 0),
            holdout REAL NOT NULL CHECK (holdout >= 0 AND holdout < 1),
            seed INTEGER NOT NULL,
            summary TEXT NOT NULL DEFAULT '{}',
            created_at TEXT NOT NULL
        );
        CREATE TABLE plan_users (
            plan_key TEXT NOT NULL REFERENCES plans(key),
            user_id TEXT NOT NULL,
            arm_key TEXT NOT NULL,
            treatment_key TEXT NOT NULL,
            expected_uplift REAL NOT NULL,
            cost REAL NOT NULL,
            PRIMARY KEY (plan_key, user_id)
        );
        """,
    ),
]

# Hardening (10-19): model file hashes, a tamper-evident audit log, versioned cohorts, the cohorts' as-of date.
AUDIT_TRIGGERS: dict[str, str] = {
    "audit_log_no_update": """CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
            BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END""",
    "audit_log_no_delete": """CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
            BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END""",
    # INSERT OR REPLACE deletes the old row without firing delete triggers: refuse any id that is not new.
    "audit_log_append_only": """CREATE TRIGGER audit_log_append_only BEFORE INSERT ON audit_log
            WHEN NEW.id IS NULL OR NEW.id <= COALESCE((SELECT MAX(id) FROM audit_log), 0)
                OR NEW.row_hash IS NULL OR NEW.prev_hash IS NULL
            BEGIN SELECT RAISE(ABORT, 'audit_log is append-only: rows are added at the end, with their hashes'); END""",
}

MIGRATIONS += [
    (
        10,
        "SHA-256 of each model file, recorded at save and checked before loading",
        """
        ALTER TABLE models ADD COLUMN sha256 TEXT;
        """,
    ),
    (
        11,
        "audit log hash chain (each row carries the previous row's hash) and a trigger against replacing inserts",
        """
        ALTER TABLE audit_log ADD COLUMN prev_hash TEXT;
        ALTER TABLE audit_log ADD COLUMN row_hash TEXT;
        """,
    ),
    (
        12,
        "versioned cohorts: flagging into a cohort adds a version; an experiment keeps the version it started with",
        """
        CREATE TABLE cohort_rows (
            cohort_key TEXT NOT NULL,
            version INTEGER NOT NULL DEFAULT 1 CHECK (version >= 1),
            user_id TEXT NOT NULL,
            risk REAL,
            stage TEXT,
            tier TEXT,
            reason TEXT,
            model TEXT,
            scored_at TEXT,
            PRIMARY KEY (cohort_key, version, user_id)
        );
        INSERT INTO cohort_rows (cohort_key, version, user_id, risk, stage, tier, reason, model, scored_at)
            SELECT cohort_key, 1, user_id, risk, stage, tier, reason, model, scored_at FROM cohorts;
        DROP TABLE cohorts;
        ALTER TABLE cohort_rows RENAME TO cohorts;
        CREATE TRIGGER cohorts_frozen BEFORE UPDATE ON cohorts
            BEGIN SELECT RAISE(ABORT, 'a cohort version cannot change; flag into the cohort again for a new one'); END;
        ALTER TABLE experiments ADD COLUMN cohort_version INTEGER;
        """,
    ),
    (
        13,
        "cohorts record the as-of date their risk was scored for (NULL for rows flagged before: shown as unknown)",
        """
        ALTER TABLE cohorts ADD COLUMN as_of TEXT;
        """,
    ),
    (
        23,
        "sessions that end: a per-user session version (logout, password, disable and role changes bump it), and "
        "failed sign-ins kept for the rate limit and the log",
        """
        ALTER TABLE users ADD COLUMN session_version INTEGER NOT NULL DEFAULT 1;
        CREATE TABLE sign_in_failures (
            id INTEGER PRIMARY KEY,
            user_name TEXT NOT NULL,
            address TEXT NOT NULL,
            failed_at TEXT NOT NULL
        );
        CREATE INDEX sign_in_failures_user ON sign_in_failures (user_name, failed_at);
        CREATE INDEX sign_in_failures_address ON sign_in_failures (address, failed_at);
        """,
    ),
]

MIGRATIONS += [
    (
        50,
        "programmes (versioned settings, a holdout kept out of everything) and their weekly cycles with what each sent",
        """
        CREATE TABLE programmes (
            name TEXT PRIMARY KEY,
            version INTEGER NOT NULL,
            settings TEXT NOT NULL,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        CREATE TABLE programme_versions (
            name TEXT NOT NULL,
            version INTEGER NOT NULL,
            settings TEXT NOT NULL,
            created_at TEXT NOT NULL,
            created_by TEXT NOT NULL,
            PRIMARY KEY (name, version)
        );
        CREATE TABLE cycles (
            programme TEXT NOT NULL REFERENCES programmes(name),
            number INTEGER NOT NULL,
            as_of TEXT NOT NULL,
            stamp TEXT NOT NULL,
            step TEXT NOT NULL,
            cohort_key TEXT,
            cohort_version INTEGER,
            enrolled_into TEXT,
            summary TEXT NOT NULL DEFAULT '{}',
            inputs TEXT NOT NULL DEFAULT '{}',
            started_at TEXT NOT NULL,
            finished_at TEXT,
            PRIMARY KEY (programme, number),
            UNIQUE (programme, as_of)
        );
        CREATE TABLE cycle_sends (
            programme TEXT NOT NULL,
            number INTEGER NOT NULL,
            user_id TEXT NOT NULL,
            arm_key TEXT NOT NULL,
            treatment_key TEXT,
            PRIMARY KEY (programme, user_id)
        );
        """,
    ),
]

MIGRATIONS += [
    (
        60,
        "bandit experiments: settings (floor, burn-in, draws) and their weight periods, each with the posterior that "
        "set it (append-only; assignments stamped from a period's start to the next's belong to it)",
        """
        CREATE TABLE bandits (
            experiment_key TEXT PRIMARY KEY REFERENCES experiments(key),
            floor REAL NOT NULL CHECK (floor >= 0 AND floor < 1),
            burn_in INTEGER NOT NULL CHECK (burn_in >= 0),
            draws INTEGER NOT NULL CHECK (draws >= 100),
            created_at TEXT NOT NULL
        );
        CREATE TABLE bandit_periods (
            experiment_key TEXT NOT NULL REFERENCES experiments(key),
            period INTEGER NOT NULL CHECK (period >= 1),
            starts_at TEXT NOT NULL,
            as_of TEXT,
            rule TEXT NOT NULL,
            weights TEXT NOT NULL,
            posterior TEXT NOT NULL DEFAULT '{}',
            created_at TEXT NOT NULL,
            PRIMARY KEY (experiment_key, period),
            UNIQUE (experiment_key, starts_at)
        );
        CREATE TRIGGER bandit_periods_no_update BEFORE UPDATE ON bandit_periods
            BEGIN SELECT RAISE(ABORT, 'bandit weight periods are append-only'); END;
        CREATE TRIGGER bandit_periods_no_delete BEFORE DELETE ON bandit_periods
            BEGIN SELECT RAISE(ABORT, 'bandit weight periods are append-only'); END;
        """,
    ),
]

MIGRATIONS.sort(key=lambda migration: migration[0])  # areas append their ranges; apply them by version
SCHEMA_VERSION = MIGRATIONS[-1][0]

# Version ranges by area, so work landing in parallel never reuses a number: 3-9 services and workflow,
# 10-19 hardening (audit chain, cohort versions and as-of dates, model hashes), 20-29 web UI (users, tokens, snapshots),
# 30-39 warehouse engines, 40-49 targeting, 50-59 programmes, 60-69 bandits. Keep MIGRATIONS sorted by version.
