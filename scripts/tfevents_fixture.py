#!/usr/bin/env python3
"""Writes and reads tests/fixtures/example.tfevents with TensorBoard's own code (pip install tensorboard).

  python3 scripts/tfevents_fixture.py write  [PATH]   # TensorBoard's protobuf classes + RecordWriter
  python3 scripts/tfevents_fixture.py read   PATH     # TensorBoard's event_file_loader: prints every event
  python3 scripts/tfevents_fixture.py scalars DIR     # EventAccumulator over a directory: prints (tag, step, value)

The fixture is produced by TensorBoard's code, not by ours: tests/tfevents.rs checks that the Rust writer
reproduces its bytes exactly, for the same inputs (kept in sync with FIXTURE_* in tests/tfevents.rs).
"""
import io
import sys

WALL_TIME = 1_700_000_000.25  # fixed, so the bytes are deterministic
# (step, tag, value): two members over two epochs and the population's best, as rnnlab's trainer writes them.
SCALARS = [
    (1, "member_00/train_nll", 8.5),
    (1, "member_00/valid_nll", 8.25),
    (1, "member_00/lr", 0.001),
    (1, "member_01/valid_nll", 0.0),
    (1, "best/valid_nll", 8.25),
    (2, "member_00/train_nll", 7.125),
    (2, "member_00/valid_nll", 7.5),
    (2, "member_01/test_nll", -1.5),
    (2, "best/test_nll", 7.75),
    (300, "best/valid_nll", 6.0625),
]


def write(path):
    from tensorboard.compat.proto import event_pb2, summary_pb2
    from tensorboard.summary.writer.record_writer import RecordWriter

    buf = io.BytesIO()
    w = RecordWriter(buf)
    w.write(event_pb2.Event(wall_time=WALL_TIME, file_version="brain.Event:2").SerializeToString())
    for i, (step, tag, value) in enumerate(SCALARS):
        value_pb = summary_pb2.Summary.Value(tag=tag, simple_value=value)
        ev = event_pb2.Event(wall_time=WALL_TIME + i, step=step, summary=summary_pb2.Summary(value=[value_pb]))
        w.write(ev.SerializeToString())
    with open(path, "wb") as f:
        f.write(buf.getvalue())
    print(f"wrote {path}: {len(buf.getvalue())} bytes, {1 + len(SCALARS)} records")


def read(path):
    from tensorboard.backend.event_processing import event_file_loader

    n = 0
    for ev in event_file_loader.LegacyEventFileLoader(path).Load():
        n += 1
        if ev.HasField("file_version"):
            print(f"wall_time={ev.wall_time} step={ev.step} file_version={ev.file_version}")
        for v in ev.summary.value:
            print(f"wall_time={ev.wall_time} step={ev.step} tag={v.tag} simple_value={v.simple_value!r}")
        if ev.HasField("session_log"):
            print(f"wall_time={ev.wall_time} step={ev.step} session_log status={ev.session_log.status}")
    print(f"{n} events")


def scalars(directory):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(directory, size_guidance={"scalars": 0})
    acc.Reload()
    for tag in sorted(acc.Tags()["scalars"]):
        for s in acc.Scalars(tag):
            print(f"{tag}\t{s.step}\t{s.value!r}\t{s.wall_time!r}")


if __name__ == "__main__":
    cmd = sys.argv[1] if len(sys.argv) > 1 else "write"
    if cmd == "write":
        write(sys.argv[2] if len(sys.argv) > 2 else "tests/fixtures/example.tfevents")
    elif cmd == "read":
        read(sys.argv[2])
    elif cmd == "scalars":
        scalars(sys.argv[2])
    else:
        sys.exit(f"unknown command {cmd}")
