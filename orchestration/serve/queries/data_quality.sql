-- Data quality beside the report (kpis.md "Data quality"): lines read and rejected, duplicates
-- dropped, on the export days of the period (all assistants). Reads marts.data_quality_daily.
select
    count(*) as export_days,
    coalesce(sum(lines_read), 0) as lines_read,
    coalesce(sum(lines_rejected), 0) as lines_rejected,
    coalesce(sum(duplicates_dropped), 0) as duplicates_dropped
from marts.data_quality_daily
where export_date between $date_from and $date_to
