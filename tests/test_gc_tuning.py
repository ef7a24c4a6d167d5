"""The collector settings of a refresh's two processes (orchestration/build/gc_tuning.py).

Each check runs in a Python process of its own: freezing objects is for the life of a process, and
this one is pytest's."""

from __future__ import annotations

import subprocess
import sys
import textwrap

# An object is frozen when it has left the collected generations: gc.get_objects() lists only those.
# (Counting the permanent generation instead is thrown off by frozen objects that die.)
WALKED = """
import gc

def walked(obj):
    return any(o is obj for o in gc.get_objects())
"""


def run_python(code: str) -> str:
    """Runs `code` in a Python process of its own, with `walked` defined."""
    proc = subprocess.run([sys.executable, "-c", WALKED + textwrap.dedent(code)], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_the_set_up_runs_without_collections_and_its_objects_are_frozen_after():
    out = run_python("""
        import atexit, gc
        from orchestration.build.gc_tuning import long_lived_set_up

        # registered first, so it runs after gc_tuning's own exit handler
        atexit.register(lambda: print("frozen at exit:", not walked(later)))
        with long_lived_set_up():
            print("collecting inside:", gc.isenabled())
            kept = [[i] for i in range(10_000)]
        print("set-up frozen:", not walked(kept), not walked(kept[-1]), "collecting after:", gc.isenabled())

        class Cycle:
            pass

        made_after = Cycle()
        made_after.me = made_after
        del made_after
        print("a later cycle collected:", gc.collect() >= 1)
        later = [[i] for i in range(10_000)]
        print("walked before exit:", walked(later))
    """)
    assert out.splitlines() == [
        "collecting inside: False",
        "set-up frozen: True True collecting after: True",
        "a later cycle collected: True",
        "walked before exit: True",
        "frozen at exit: True",
    ]


def test_a_disabled_collector_stays_disabled():
    out = run_python("""
        import gc
        from orchestration.build.gc_tuning import long_lived_set_up

        gc.disable()
        with long_lived_set_up():
            pass
        print(gc.isenabled())
    """)
    assert out.strip() == "False"


def test_dbt_child_freezes_the_parsed_project_when_dbt_announces_its_threads():
    """dbt fires ConcurrencyLine once per build, after the parse and before the first node; the
    event's name is dbt's, so a rename in dbt-core fails here rather than quietly undoing this."""
    out = run_python("""
        import gc
        from dbt.events.types import ConcurrencyLine, MainReportVersion
        from dbt_common.events.base_types import msg_from_base_event
        from orchestration.build.dbt_child import _freeze_the_parsed_project

        parsed = [[i] for i in range(10_000)]
        _freeze_the_parsed_project(msg_from_base_event(MainReportVersion(version="1", log_version=3)))
        print("other event:", walked(parsed))
        _freeze_the_parsed_project(msg_from_base_event(ConcurrencyLine(num_threads=2, target_name="main",
                                                                        node_count=3)))
        print("threads announced:", walked(parsed))
    """)
    assert out.splitlines() == ["other event: True", "threads announced: False"]
