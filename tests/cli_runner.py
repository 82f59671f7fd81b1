"""One way for the tests to run the `safetune` command: `run(*args)` gives a `CompletedProcess` (returncode, stdout,
stderr) as a subprocess would, but calls `safetune.cli.main` in this process, so that torch and transformers are
imported once per test session instead of once per command (5-8 s each on 2 cores; most of pytest's time before).

What stays a subprocess: the console script itself (`subprocess_=True`, e.g. `--version`, `--help`), and everything set
before Python starts (torch's thread pool, import-time settings). `SAFETUNE_TEST_SUBPROCESS=1` runs every command as a
subprocess, to check that nothing depends on running in-process."""
import contextlib, io, logging, os, subprocess, sys, traceback, warnings
from pathlib import Path

SAFETUNE = str(Path(sys.executable).with_name("safetune"))
OFFLINE = {"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "HF_DATASETS_DISABLE_PROGRESS_BARS": "1"}
ALL_SUBPROCESS = os.environ.get("SAFETUNE_TEST_SUBPROCESS") == "1"

def run(*args, cwd=None, env:dict|None=None, threads:int|None=None, subprocess_:bool=False) -> subprocess.CompletedProcess:
    "`safetune ARGS` with extra `env` and torch `threads`, in `cwd`: in this process unless `subprocess_` (or the env var)."
    argv = list(map(str, args))
    if subprocess_ or ALL_SUBPROCESS:
        e = {**os.environ, **OFFLINE, **(env or {}), **({"OMP_NUM_THREADS": str(threads)} if threads else {})}
        return subprocess.run([SAFETUNE, *argv], capture_output=True, text=True, cwd=cwd, env=e, timeout=600)
    return _in_process(argv, cwd, {**OFFLINE, **(env or {})}, threads)

@contextlib.contextmanager
def _streams_to(out:io.StringIO, err:io.StringIO):
    "sys.stdout/stderr to `out`/`err`, and every logging handler that writes to the real stderr (transformers') to `err`."
    handlers = [h for lg in [logging.getLogger(), *logging.Logger.manager.loggerDict.values()] for h in getattr(lg, "handlers", [])
                if isinstance(h, logging.StreamHandler) and not isinstance(h, logging._StderrHandler) and h.stream in (sys.stderr, sys.__stderr__)]
    old = [h.setStream(err) for h in handlers]
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), warnings.catch_warnings():
            _fresh_interpreter_warnings(); yield
    finally:
        for h, s in zip(handlers, old): h.setStream(s)

def _fresh_interpreter_warnings():
    "Warnings printed to (the redirected) stderr with a fresh interpreter's filters, not recorded by pytest or shown once."
    warnings.resetwarnings(); warnings.simplefilter("default")        # resetting also forgets which were shown already
    for c in (DeprecationWarning, PendingDeprecationWarning, ImportWarning, ResourceWarning): warnings.simplefilter("ignore", c)
    warnings.showwarning = lambda message, category, filename, lineno, file=None, line=None: sys.stderr.write(
        warnings.formatwarning(message, category, filename, lineno, line))

def _in_process(argv:list[str], cwd, env:dict, threads:int|None) -> subprocess.CompletedProcess:
    import torch
    from safetune.cli import main
    saved_env, saved_cwd, saved_argv, saved_threads = dict(os.environ), os.getcwd(), sys.argv, torch.get_num_threads()
    out, err = io.StringIO(), io.StringIO()
    os.environ.update(env); sys.argv = ["safetune", *argv]
    if threads: torch.set_num_threads(threads)
    try:
        if cwd is not None: os.chdir(cwd)
        with _streams_to(out, err):
            try: rc = main(argv)
            except SystemExit as e:                                   # argparse: 2 for a usage error, 0 for --help
                rc = e.code if isinstance(e.code, int) else (0 if e.code is None else (print(e.code, file=sys.stderr) or 1))
            except Exception:                                         # as the interpreter would: a traceback and status 1
                traceback.print_exc(); rc = 1
    finally:
        os.chdir(saved_cwd); sys.argv = saved_argv; torch.set_num_threads(saved_threads)
        os.environ.clear(); os.environ.update(saved_env)
    return subprocess.CompletedProcess(["safetune", *argv], rc, out.getvalue(), err.getvalue())
