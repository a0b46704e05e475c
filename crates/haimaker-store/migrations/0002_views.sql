-- The views LiteLLM's proxy creates at startup (`create_missing_views` in
-- litellm/proxy/db/create_views.py; LiteLLM is MIT-licensed, see LICENSE-litellm-proxy-extras).
-- The definitions are LiteLLM's, copied verbatim from litellm 1.110.2, the release that goes
-- with the 0.4.11x schema of 0001. Only LiteLLM_VerificationTokenView changed over time:
-- litellm 1.77.7 had v.*, team_spend, team_max_budget, team_tpm_limit, team_rpm_limit; the
-- newer one adds team_model_max_budget, team_tpd_limit and project_alias, so it keeps every
-- column any version had.
--
-- LiteLLM only checks that these views exist and never re-creates one, so a database has
-- whichever definition it first got. CREATE OR REPLACE VIEW can only append columns at the
-- end, and `v.*` expands to the key table's columns at creation time, so replacing an older
-- view usually fails: then it is dropped and created again, in this same transaction. If
-- other objects (an operator's own views) depend on it, the existing view is kept.

DO $$
DECLARE
    definition CONSTANT text := $view$
                SELECT
                v.*,
                t.spend AS team_spend,
                t.max_budget AS team_max_budget,
                t.model_max_budget AS team_model_max_budget,
                t.tpm_limit AS team_tpm_limit,
                t.rpm_limit AS team_rpm_limit,
                t.tpd_limit AS team_tpd_limit,
                p.project_alias AS project_alias
                FROM "LiteLLM_VerificationToken" v
                LEFT JOIN "LiteLLM_TeamTable" t ON v.team_id = t.team_id
                LEFT JOIN "LiteLLM_ProjectTable" p ON v.project_id = p.project_id
    $view$;
BEGIN
    EXECUTE 'CREATE OR REPLACE VIEW "LiteLLM_VerificationTokenView" AS ' || definition;
EXCEPTION WHEN invalid_table_definition THEN
    BEGIN
        EXECUTE 'DROP VIEW "LiteLLM_VerificationTokenView"';
        EXECUTE 'CREATE VIEW "LiteLLM_VerificationTokenView" AS ' || definition;
    EXCEPTION WHEN dependent_objects_still_exist THEN
        RAISE WARNING 'haimaker: kept the existing view "LiteLLM_VerificationTokenView": other objects depend on it';
    END;
END $$;

DO $$
DECLARE
    definition CONSTANT text := $view$
        SELECT
        DATE("startTime") AS date,
        SUM("spend") AS spend
        FROM
        "LiteLLM_SpendLogs"
        WHERE
        "startTime" >= (CURRENT_DATE - INTERVAL '30 days')
        GROUP BY
        DATE("startTime")
    $view$;
BEGIN
    EXECUTE 'CREATE OR REPLACE VIEW "MonthlyGlobalSpend" AS ' || definition;
EXCEPTION WHEN invalid_table_definition THEN
    BEGIN
        EXECUTE 'DROP VIEW "MonthlyGlobalSpend"';
        EXECUTE 'CREATE VIEW "MonthlyGlobalSpend" AS ' || definition;
    EXCEPTION WHEN dependent_objects_still_exist THEN
        RAISE WARNING 'haimaker: kept the existing view "MonthlyGlobalSpend": other objects depend on it';
    END;
END $$;

DO $$
DECLARE
    definition CONSTANT text := $view$
        SELECT
        L."api_key",
        V."key_alias",
        V."key_name",
        SUM(L."spend") AS total_spend
        FROM
        "LiteLLM_SpendLogs" L
        LEFT JOIN
        "LiteLLM_VerificationToken" V
        ON
        L."api_key" = V."token"
        WHERE
        L."startTime" >= (CURRENT_DATE - INTERVAL '30 days')
        GROUP BY
        L."api_key", V."key_alias", V."key_name"
        ORDER BY
        total_spend DESC
    $view$;
BEGIN
    EXECUTE 'CREATE OR REPLACE VIEW "Last30dKeysBySpend" AS ' || definition;
EXCEPTION WHEN invalid_table_definition THEN
    BEGIN
        EXECUTE 'DROP VIEW "Last30dKeysBySpend"';
        EXECUTE 'CREATE VIEW "Last30dKeysBySpend" AS ' || definition;
    EXCEPTION WHEN dependent_objects_still_exist THEN
        RAISE WARNING 'haimaker: kept the existing view "Last30dKeysBySpend": other objects depend on it';
    END;
END $$;

DO $$
DECLARE
    definition CONSTANT text := $view$
        SELECT
        "model",
        SUM("spend") AS total_spend
        FROM
        "LiteLLM_SpendLogs"
        WHERE
        "startTime" >= (CURRENT_DATE - INTERVAL '30 days')
        AND "model" != ''
        GROUP BY
        "model"
        ORDER BY
        total_spend DESC
    $view$;
BEGIN
    EXECUTE 'CREATE OR REPLACE VIEW "Last30dModelsBySpend" AS ' || definition;
EXCEPTION WHEN invalid_table_definition THEN
    BEGIN
        EXECUTE 'DROP VIEW "Last30dModelsBySpend"';
        EXECUTE 'CREATE VIEW "Last30dModelsBySpend" AS ' || definition;
    EXCEPTION WHEN dependent_objects_still_exist THEN
        RAISE WARNING 'haimaker: kept the existing view "Last30dModelsBySpend": other objects depend on it';
    END;
END $$;

DO $$
DECLARE
    definition CONSTANT text := $view$
            SELECT
            DATE("startTime") AS date,
            SUM("spend") AS spend,
            api_key as api_key
            FROM
            "LiteLLM_SpendLogs"
            WHERE
            "startTime" >= (CURRENT_DATE - INTERVAL '30 days')
            GROUP BY
            DATE("startTime"),
            api_key
    $view$;
BEGIN
    EXECUTE 'CREATE OR REPLACE VIEW "MonthlyGlobalSpendPerKey" AS ' || definition;
EXCEPTION WHEN invalid_table_definition THEN
    BEGIN
        EXECUTE 'DROP VIEW "MonthlyGlobalSpendPerKey"';
        EXECUTE 'CREATE VIEW "MonthlyGlobalSpendPerKey" AS ' || definition;
    EXCEPTION WHEN dependent_objects_still_exist THEN
        RAISE WARNING 'haimaker: kept the existing view "MonthlyGlobalSpendPerKey": other objects depend on it';
    END;
END $$;

DO $$
DECLARE
    definition CONSTANT text := $view$
            SELECT
            DATE("startTime") AS date,
            SUM("spend") AS spend,
            api_key as api_key,
            "user" as "user"
            FROM
            "LiteLLM_SpendLogs"
            WHERE
            "startTime" >= (CURRENT_DATE - INTERVAL '30 days')
            GROUP BY
            DATE("startTime"),
            "user",
            api_key
    $view$;
BEGIN
    EXECUTE 'CREATE OR REPLACE VIEW "MonthlyGlobalSpendPerUserPerKey" AS ' || definition;
EXCEPTION WHEN invalid_table_definition THEN
    BEGIN
        EXECUTE 'DROP VIEW "MonthlyGlobalSpendPerUserPerKey"';
        EXECUTE 'CREATE VIEW "MonthlyGlobalSpendPerUserPerKey" AS ' || definition;
    EXCEPTION WHEN dependent_objects_still_exist THEN
        RAISE WARNING 'haimaker: kept the existing view "MonthlyGlobalSpendPerUserPerKey": other objects depend on it';
    END;
END $$;

DO $$
DECLARE
    definition CONSTANT text := $view$
        SELECT
            jsonb_array_elements_text(request_tags) AS individual_request_tag,
            DATE(s."startTime") AS spend_date,
            COUNT(*) AS log_count,
            SUM(spend) AS total_spend
        FROM "LiteLLM_SpendLogs" s
        GROUP BY individual_request_tag, DATE(s."startTime")
    $view$;
BEGIN
    EXECUTE 'CREATE OR REPLACE VIEW "DailyTagSpend" AS ' || definition;
EXCEPTION WHEN invalid_table_definition THEN
    BEGIN
        EXECUTE 'DROP VIEW "DailyTagSpend"';
        EXECUTE 'CREATE VIEW "DailyTagSpend" AS ' || definition;
    EXCEPTION WHEN dependent_objects_still_exist THEN
        RAISE WARNING 'haimaker: kept the existing view "DailyTagSpend": other objects depend on it';
    END;
END $$;

-- Verbatim, including LiteLLM's unquoted `user`, which is SQL's CURRENT_USER and not the
-- "user" column: changing it would change what the view returns.
DO $$
DECLARE
    definition CONSTANT text := $view$
        SELECT end_user, COUNT(*) AS total_events, SUM(spend) AS total_spend
        FROM "LiteLLM_SpendLogs"
        WHERE end_user <> '' AND end_user <> user
        AND "startTime" >= CURRENT_DATE - INTERVAL '30 days'
        GROUP BY end_user
        ORDER BY total_spend DESC
        LIMIT 100
    $view$;
BEGIN
    EXECUTE 'CREATE OR REPLACE VIEW "Last30dTopEndUsersSpend" AS ' || definition;
EXCEPTION WHEN invalid_table_definition THEN
    BEGIN
        EXECUTE 'DROP VIEW "Last30dTopEndUsersSpend"';
        EXECUTE 'CREATE VIEW "Last30dTopEndUsersSpend" AS ' || definition;
    EXCEPTION WHEN dependent_objects_still_exist THEN
        RAISE WARNING 'haimaker: kept the existing view "Last30dTopEndUsersSpend": other objects depend on it';
    END;
END $$;
