"""Where the time goes: py-spy on the platform processes under load, cProfile of the
submissions application's ``submit_batch`` in-process.

py-spy samples on-CPU stacks only (idle threads are left out). Each process gets two views:
- *inclusive*: share of its samples inside a named operation (like cProfile's cumulative
  time; operations nest, so they do not add up to 100 %);
- *self*: share of samples whose innermost frame is in a library (adds up to 100 %).
"""

from __future__ import annotations

import cProfile
import os
import pstats
import re
import shutil
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

PYSPY_VERSION = "0.4.3"
RATE = 50  # samples/s per process (blocking mode: --nonblocking lost most gateway samples)

# operation label -> regex on one frame "function (file:line)"
OPERATIONS: dict[str, list[tuple[str, str]]] = {
    "gateway": [
        ("HTTP request handling (eventlet.wsgi, all of it)", r"handle_one_request \(eventlet/wsgi"),
        ("submit_case handler (all of it)", r"\.submit_case \("),
        ("read_json (body + json.loads)", r"\bread_json \("),
        ("request envelope check (jsonschema)", r"iter_errors \(jsonschema/"),
        ("json_response (json.dumps + Response)", r"\bjson_response \("),
        ("batcher pipeline: submit_batch RPC (kombu/amqp)", r"SubmitBatcher\._pipeline \("),
        ("socket send (GreenSocket._send_loop)", r"GreenSocket\._send_loop"),
        ("metrics (prometheus_client)", r"\(prometheus_client/"),
        ("logging (structlog)", r"\(structlog/"),
    ],
    "submissions": [
        ("submit_batch RPC entrypoint (all of it)", r"SubmissionsService\.submit_batch \("),
        ("form validation (field_errors, jsonschema)", r"\bfield_errors \("),
        ("request fingerprint (canonical JSON + sha256)", r"SubmitCommand\.fingerprint \("),
        ("build Case aggregates (Case.submit)", r"SubmissionsApp\._build \("),
        ("eventsourcing save (encode + insert + commit)", r"Application\.save \(eventsourcing/"),
        ("  of which mapper.to_stored_event (encode)", r"Mapper\.to_stored_event \("),
        ("  of which recorder.insert_events (PostgreSQL)", r"\.insert_events \(eventsourcing/postgres"),
        ("case_view (results)", r"\bcase_view \("),
        ("RPC consume + reply (nameko/kombu/amqp)", r"\((kombu|amqp)/"),
        ("metrics (prometheus_client)", r"\(prometheus_client/"),
    ],
    "relay": [
        ("select_notifications (read outbox)", r"\.select_notifications \("),
        ("map notification → envelope (decode domain event)", r"\bmap_notification \("),
        ("publish_batch (AMQP publish + confirms)", r"\.publish_batch \("),
        ("  of which json.dumps", r"^dumps \(json/|;dumps \(json/"),
        ("save_position", r"\.save_position \("),
    ],
    "projector": [
        ("next_batch (AMQP consume + json.loads)", r"\.next_batch \("),
        ("models.apply (read-model transaction)", r"CaseReadModels\.apply \("),
        ("  of which fold", r"\bfold \("),
        ("  of which _write (executemany upserts)", r"CaseReadModels\._write \("),
        ("  of which psycopg", r"\(psycopg/"),
        ("ack_through", r"\.ack_through \("),
        ("update_lag (lag metric queries)", r"\.update_lag \("),
    ],
}
_FILE = re.compile(r"\(([^():]+)(?::\d+)?\)$")
#: Innermost frames of a thread that waits rather than works: py-spy's own idle detection
#: missed these (background threads of the pools and the metrics server, the relay's idle
#: sleep, a blocking read from the broker or the database). The "busy" view leaves them out.
WAITING = re.compile(
    r"^(Condition\.wait \(threading|Event\.wait \(threading|_PollLikeSelector\.select \(selectors|"
    r"\w*Selector\.select \(selectors|BaseServer\.serve_forever \(socketserver|Relay\.run \(services/common/relay|"
    r"TCPTransport\._read \(amqp/transport|Connection\.wait \(psycopg/connection|Hub\.wait \(eventlet/hubs/|"
    r"\w+\.wait \(eventlet/hubs/|\w+\.do_poll \(eventlet/hubs/)"
)


def pyspy_binary(install: bool = True) -> str | None:
    """py-spy from the venv or PATH; installed (pinned) into the venv when missing."""
    venv_bin = str(Path(sys.executable).parent)
    found = shutil.which("py-spy", path=os.pathsep.join([venv_bin, os.environ.get("PATH", "")]))
    if found or not install:
        return found
    try:
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "--quiet", f"py-spy=={PYSPY_VERSION}"],
            check=True, capture_output=True, timeout=180,
        )
    except (subprocess.SubprocessError, OSError):
        return None
    return pyspy_binary(install=False)


class PySpy:
    """``py-spy record`` attached to each process; stopped with SIGINT, which writes the file."""

    def __init__(self, binary: str, pids: dict[str, int], out_dir: Path):
        self.binary, self.pids, self.out_dir = binary, pids, out_dir
        self.procs: dict[str, subprocess.Popen] = {}
        out_dir.mkdir(parents=True, exist_ok=True)

    def start(self) -> PySpy:
        for name, pid in self.pids.items():
            self.procs[name] = subprocess.Popen(
                [self.binary, "record", "--pid", str(pid), "--rate", str(RATE),
                 "--format", "raw", "--duration", "900", "-o", str(self.out_dir / f"{name}.txt")],
                stdout=(log := open(self.out_dir / f"{name}.log", "wb")), stderr=log,  # noqa: SIM115
            )
        return self

    def stop(self) -> dict[str, Any]:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
        for proc in self.procs.values():
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        out = {name: analyse(self.out_dir / f"{name}.txt", name) for name in self.procs}
        for name in out:  # py-spy's own count of samples and of failed reads
            log = (self.out_dir / f"{name}.log").read_text(errors="replace")
            if match := re.search(r"Samples: (\d+) Errors: (\d+)", log):
                out[name]["py_spy_samples_errors"] = [int(match.group(1)), int(match.group(2))]
        return out


def library(frame: str) -> str:
    """The package a frame's file belongs to (py-spy prints paths relative to sys.path)."""
    match = _FILE.search(frame)
    if not match:
        return "other"
    parts = match.group(1).split("/")
    if parts[0] == "services" and len(parts) > 2:
        return f"services.{parts[1]}"
    return parts[0].removesuffix(".py") if len(parts) > 1 or parts[0].endswith(".py") else parts[0]


def analyse(path: Path, process: str, top: int = 12) -> dict[str, Any]:
    """Inclusive operation shares and self time per library from py-spy's raw output."""
    stacks: list[tuple[list[str], int]] = []
    if path.exists():
        for line in path.read_text(errors="replace").splitlines():
            stack, _, count = line.rpartition(" ")
            if stack and count.isdigit():
                stacks.append((stack.split(";"), int(count)))
    total = sum(c for _, c in stacks)
    if not total:
        return {"samples": 0}
    inclusive = {}
    for label, pattern in OPERATIONS.get(process, []):
        regex = re.compile(pattern)
        hits = sum(c for frames, c in stacks if any(regex.search(f) for f in frames))
        inclusive[label] = round(100 * hits / total, 1)
    by_lib: Counter = Counter()
    by_func: Counter = Counter()
    for frames, count in stacks:
        by_lib[library(frames[-1])] += count
        by_func[frames[-1].rsplit(":", 1)[0] + ")"] += count
    busy_stacks = [(frames, c) for frames, c in stacks if not WAITING.search(frames[-1])]
    busy = sum(c for _, c in busy_stacks)
    inclusive_busy = {}
    for label, pattern in OPERATIONS.get(process, []):
        regex = re.compile(pattern)
        hits = sum(c for frames, c in busy_stacks if any(regex.search(f) for f in frames))
        inclusive_busy[label] = round(100 * hits / busy, 1) if busy else None
    busy_by_lib: Counter = Counter()
    for frames, count in busy_stacks:
        busy_by_lib[library(frames[-1])] += count
    return {
        "samples": total,
        "cpu_seconds_approx": round(total / RATE, 1),
        "inclusive_pct": inclusive,
        "busy_samples": busy,
        "inclusive_pct_of_busy": inclusive_busy,
        "busy_self_pct_by_library": {k: round(100 * v / busy, 1) for k, v in busy_by_lib.most_common(top)} if busy else {},
        "self_pct_by_library": {k: round(100 * v / total, 1) for k, v in by_lib.most_common(top)},
        "self_pct_top_functions": {k: round(100 * v / total, 1) for k, v in by_func.most_common(top)},
    }


# -- cProfile of submit_batch in-process -------------------------------------------------
CPROFILE_KEYS = {
    "submit_batch (all)": ("application.py", "submit_batch"),
    "field_errors (jsonschema form validation)": ("application.py", "field_errors"),
    "fingerprint (canonical JSON + sha256)": ("application.py", "fingerprint"),
    "_build (Case.submit aggregates)": ("application.py", "_build"),
    "Application.save": ("eventsourcing/application.py", "save"),
    "mapper.to_stored_event (encode events)": ("eventsourcing/persistence.py", "to_stored_event"),
    "recorder.insert_events (PostgreSQL)": ("eventsourcing/postgres.py", "insert_events"),
    "case_view": ("application.py", "case_view"),
}


def cprofile_summary(profiler: cProfile.Profile, top: int = 15) -> dict[str, Any]:
    stats = pstats.Stats(profiler)
    raw = stats.stats  # type: ignore[attr-defined]
    total = stats.total_tt  # type: ignore[attr-defined]
    root = next((ct for (file, _, fn), (_, _, _, ct, _) in raw.items() if fn == "submit_batch" and file.endswith("application.py")), total)
    out: dict[str, Any] = {"profiled_seconds": round(root, 3), "cumulative_pct_of_submit_batch": {}}
    for label, (suffix, func) in CPROFILE_KEYS.items():
        cum = sum(ct for (file, _, fn), (_, _, _, ct, _) in raw.items() if fn == func and file.endswith(suffix))
        out["cumulative_pct_of_submit_batch"][label] = round(100 * cum / root, 1) if root else None
    ranked = sorted(raw.items(), key=lambda kv: kv[1][2], reverse=True)[:top]
    out["top_self_time"] = {
        f"{fn} ({Path(file).parent.name}/{Path(file).name}:{line})": round(100 * tt / root, 1) for (file, line, fn), (_, _, tt, _, _) in ranked
    }
    return out
