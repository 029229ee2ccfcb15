{#- The typed, flattened columns of a customer row (live table or history version): the
    API's camelCase fields and nested objects become snake_case columns, one level deep. Used by
    stg_equipme__customers and equipme__customers_as_of so both read the same. -#}
{% macro equipme_customer_columns(alias) -%}
    {{ alias }}.id::integer as customer_id,
    {{ alias }}.uuid::varchar as customer_uuid,
    {{ alias }}.name::varchar as customer_name,
    {{ alias }}.customerNumber::varchar as customer_number,
    {{ alias }}.active::boolean as is_active,
    {{ alias }}.language::varchar as language,
    {{ alias }}.description::varchar as description,
    {{ alias }}.contactName::varchar as contact_name,
    {{ alias }}.contactEmail::varchar as contact_email,
    {{ alias }}.contactPhone::varchar as contact_phone,
    {{ alias }}.customAttribute1::varchar as custom_attribute_1,
    {{ alias }}.customAttribute2::varchar as custom_attribute_2,
    {{ alias }}.customAttribute3::varchar as custom_attribute_3,
    {{ alias }}.companyAddress.id::bigint as address_id,
    {{ alias }}.companyAddress.line1::varchar as address_line_1,
    {{ alias }}.companyAddress.street::varchar as address_street,
    {{ alias }}.companyAddress.number::varchar as address_number,
    {{ alias }}.companyAddress.addition::varchar as address_addition,
    {{ alias }}.companyAddress.postalCode::varchar as address_postal_code,
    {{ alias }}.companyAddress.city::varchar as address_city,
    {{ alias }}.companyAddress.dependentLocality::varchar as address_dependent_locality,
    {{ alias }}.companyAddress.regionCode::varchar as address_region_code,
    {{ alias }}.companyAddress.regionName::varchar as address_region_name,
    {{ alias }}.companyAddress.countryCode::varchar as address_country_code,
    {{ alias }}.companyAddress.phoneNumber::varchar as address_phone_number,
    {{ alias }}.accountManager.id::integer as account_manager_id,
    {{ alias }}.accountManager.firstName::varchar as account_manager_first_name,
    {{ alias }}.accountManager.lastName::varchar as account_manager_last_name,
    coalesce(
        {{ alias }}.accountManager.fullName,
        nullif(concat_ws(' ', {{ alias }}.accountManager.firstName, {{ alias }}.accountManager.lastName), '')
    )::varchar as account_manager_full_name,
    {{ alias }}.accountManager.email::varchar as account_manager_email,
    {{ alias }}.accountManager.username::varchar as account_manager_username,
    {{ alias }}.accountManager.costCenter::varchar as account_manager_cost_center,
    {{ alias }}.accountManager.costCenterId::integer as account_manager_cost_center_id,
    {{ alias }}.referredBy.referredOn::timestamptz as referred_on,
    {{ alias }}.referredBy.company.id::integer as referred_by_customer_id,
    {{ alias }}.referredBy.company.name::varchar as referred_by_customer_name,
    {{ alias }}.referredBy.employee.id::integer as referred_by_employee_id,
    coalesce(
        {{ alias }}.referredBy.employee.fullName,
        nullif(concat_ws(' ', {{ alias }}.referredBy.employee.firstName, {{ alias }}.referredBy.employee.lastName), '')
    )::varchar as referred_by_employee_full_name
{%- endmacro %}
