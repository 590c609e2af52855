"""Runs a group of command lines in ONE process, as `python main.py ...` would run each,
and reports what each did (tests/test_hostile.py). One process per group keeps the battery
fast (TensorFlow is imported once, or not at all for the cases refused before it loads)
while each case still gets its own exit status, stdout and stderr (fd 1 and fd 2 are
redirected per case, so native writes are caught too).

    python tests/hostile_runner.py CASES.json RESULT.json

CASES.json: [{"id": ..., "argv": [...]} | {"id": ..., "load_image": PATH}]
RESULT.json: {"cases": {id: {"rc", "stdout", "stderr", "tf_loaded"} | {"shape", "meta"}},
              "maxrss_bytes": peak resident memory of this process image}

The peak is the kernel's VmHWM of this process image (/proc/self/status), not getrusage's
ru_maxrss: Linux carries ru_maxrss across fork + exec, so a child of a 2 GB pytest
process would report 2 GB before doing anything.
"""
import json
import os
import resource
import sys
import tempfile
import traceback

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)


def _run_cli(argv):
    import main

    saved = {fd: os.dup(fd) for fd in (1, 2)}
    sinks = {fd: tempfile.TemporaryFile() for fd in (1, 2)}
    rc = None
    try:
        sys.stdout.flush()
        sys.stderr.flush()
        for fd, sink in sinks.items():
            os.dup2(sink.fileno(), fd)
        try:
            rc = main.main(list(argv))
        except SystemExit as exc:
            rc = exc.code
        except BaseException:  # a raw exception is a failure of the contract: report it
            traceback.print_exc()
            rc = "raised"
        sys.stdout.flush()
        sys.stderr.flush()
    finally:
        for fd, old in saved.items():
            os.dup2(old, fd)
            os.close(old)
    text = {}
    for fd, sink in sinks.items():
        sink.seek(0)
        text[fd] = sink.read().decode(errors="replace")
        sink.close()
    return {"rc": rc, "stdout": text[1], "stderr": text[2],
            "tf_loaded": "tensorflow" in sys.modules}


def _load(path):
    from convscope.engine.errors import UserError
    from convscope.engine.images import load_image

    try:
        im = load_image(path)
        return {"shape": list(im.pixels.shape), "meta": {k: list(v) for k, v in im.meta.items()}}
    except UserError as exc:
        return {"error": str(exc)}


def _vm_hwm() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024  # kB
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # (no /proc)


def main():
    cases = json.load(open(sys.argv[1]))
    out = {}
    for case in cases:
        out[case["id"]] = _load(case["load_image"]) if "load_image" in case else _run_cli(case["argv"])
    peak = _vm_hwm()
    json.dump({"cases": out, "maxrss_bytes": peak}, open(sys.argv[2], "w"))


if __name__ == "__main__":
    main()
