-- Reporting views over the loaded tables. Rows with _deleted_at set are skipped everywhere.
-- Each statement names the tables it needs, and create_views() skips a view whose tables are
-- missing. customer_metadata_wide is generated in views.py (one column per metadata key).

-- requires: customers
CREATE OR REPLACE VIEW customers_report AS
SELECT
    c.id,
    c.name,
    c.customerNumber AS customer_number,
    c.active,
    c.language,
    c.description,
    c.contactName AS contact_name,
    c.contactEmail AS contact_email,
    c.contactPhone AS contact_phone,
    c.companyAddress.line1 AS address_line1,
    c.companyAddress.street AS street,
    c.companyAddress.number AS street_number,
    c.companyAddress.addition AS address_addition,
    c.companyAddress.postalCode AS postal_code,
    c.companyAddress.city AS city,
    c.companyAddress.regionCode AS region_code,
    c.companyAddress.regionName AS region_name,
    c.companyAddress.countryCode AS country_code,
    c.companyAddress.phoneNumber AS address_phone,
    c.accountManager.id AS account_manager_id,
    coalesce(
        c.accountManager.fullName,
        nullif(concat_ws(' ', c.accountManager.firstName, c.accountManager.lastName), '')
    ) AS account_manager_name,
    c.accountManager.email AS account_manager_email,
    c.referredBy.referredOn AS referred_on,
    c.referredBy.company.id AS referred_by_company_id,
    c.referredBy.company.name AS referred_by_company_name,
    c.referredBy.employee.id AS referred_by_employee_id,
    coalesce(
        c.referredBy.employee.fullName,
        nullif(concat_ws(' ', c.referredBy.employee.firstName, c.referredBy.employee.lastName), '')
    ) AS referred_by_employee_name,
    c._loaded_at AS loaded_at,
    c._first_seen_at AS first_seen_at,
    c._changed_at AS changed_at
FROM customers AS c
WHERE c._deleted_at IS NULL;

-- requires: customers_history, customer_metadata_history
-- One row per day and stream: what the syncs found. A version opened for a key never seen
-- before is an insert, one that follows a closed version with no gap an update, one that
-- follows a gap (the row was deleted) an undelete. A version closed with nothing after it
-- is a delete.
CREATE OR REPLACE VIEW changes_by_day AS
WITH versions AS (
    SELECT 'customers' AS stream, id::VARCHAR AS row_key, _valid_from, _valid_to
    FROM customers_history
    UNION ALL
    SELECT 'customer_metadata', customer_id::VARCHAR || '/' || key, _valid_from, _valid_to
    FROM customer_metadata_history
),
ordered AS (
    SELECT *,
        lag(_valid_to) OVER (PARTITION BY stream, row_key ORDER BY _valid_from) AS previous_to,
        row_number() OVER (PARTITION BY stream, row_key ORDER BY _valid_from) AS n,
        lead(_valid_from) OVER (PARTITION BY stream, row_key ORDER BY _valid_from) AS next_from
    FROM versions
),
events AS (
    SELECT stream, _valid_from AS changed_at,
        CASE WHEN n = 1 THEN 'inserted' WHEN previous_to = _valid_from THEN 'updated'
            ELSE 'undeleted' END AS change
    FROM ordered
    UNION ALL
    SELECT stream, _valid_to, 'deleted' FROM ordered
    WHERE _valid_to IS NOT NULL AND (next_from IS NULL OR next_from > _valid_to)
)
SELECT
    CAST(changed_at AS DATE) AS day,
    stream,
    count(*) FILTER (WHERE change = 'inserted') AS inserted,
    count(*) FILTER (WHERE change = 'updated') AS updated,
    count(*) FILTER (WHERE change = 'deleted') AS deleted,
    count(*) FILTER (WHERE change = 'undeleted') AS undeleted
FROM events
GROUP BY ALL
ORDER BY day DESC, stream;

-- requires: customers, customer_metadata
CREATE OR REPLACE VIEW customer_metadata_long AS
SELECT
    m.customer_id,
    c.name AS customer_name,
    m.key,
    m.value,
    m.scope
FROM customer_metadata AS m
JOIN customers AS c ON c.id = m.customer_id AND c._deleted_at IS NULL
WHERE m._deleted_at IS NULL;

-- requires: customers
CREATE OR REPLACE VIEW customer_counts_by_active AS
SELECT
    active,
    count(*) AS customers
FROM customers
WHERE _deleted_at IS NULL
GROUP BY ALL
ORDER BY active DESC NULLS LAST;
