"""Each distinct User-Agent string parsed by uap-core's rules (kpis.md "Users": the `ua-parser`
package), for raw.user_agents, which both loaders keep (raw.py, spark_load.py).

The models cannot parse the strings themselves: uap-core is hundreds of regular expressions, tried
in order, written for engines that DuckDB's (RE2) and Spark's (Java) do not match everywhere, with
replacements that use the groups they capture. So a loader parses each string it has not seen
with the package, once, and the models read the browser, OS and device families from the table.
Each row names the parser that wrote it (`parsed_by`): after an upgrade of the package or of its
rules, the rows of the old one are parsed again, and the models are rebuilt in full (the
fingerprint of the build's inputs, build/refresh_state.py, holds the parser's version).
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from importlib.metadata import PackageNotFoundError, version

# raw.user_agents' columns, in order
COLUMNS = ("user_agent", "browser", "os_family", "device_family", "parsed_by")
UNKNOWN = "Other"  # uap-core's family for a string none of its rules matches


@cache
def parser_version() -> str:
    """The package and the rules (uap-core's regexes, shipped as ua-parser-builtins) that parse."""
    def of(package: str) -> str:
        try:
            return version(package)
        except PackageNotFoundError:
            return "unknown"

    return f"ua-parser {of('ua-parser')}, uap-core {of('ua-parser-builtins')}"


def parsed(user_agents: Iterable[str]) -> list[tuple[str, str, str, str, str]]:
    """A row of raw.user_agents per string: (user_agent, browser, os_family, device_family, parsed_by)."""
    from ua_parser import parse  # imported by a load that has new strings only

    by = parser_version()
    rows = []
    for user_agent in user_agents:
        result = parse(user_agent)
        rows.append((
            user_agent,
            result.user_agent.family if result.user_agent else UNKNOWN,
            result.os.family if result.os else UNKNOWN,
            result.device.family if result.device else UNKNOWN,
            by,
        ))
    return rows
