-- kpis.md "Handover": by_trigger splits the requests (direct + after_fallback + operator_button =
-- requests) and so does by_mode (human_takeover + ticket = requests). Returns the fct_handover
-- chats where a split does not add up to the chat's requests or a count is negative. Scope: per
-- chat, so an incremental refresh checks the affected users' chats (docs/incremental.md).

select *
from {{ recomputed_rows(ref('fct_handover')) }} as f
where (
    direct_requests + after_fallback_requests + operator_button_requests <> requests
    or human_takeover_requests + ticket_requests <> requests
    or least(
        requests, direct_requests, after_fallback_requests, operator_button_requests,
        human_takeover_requests, ticket_requests
    ) < 0
)
