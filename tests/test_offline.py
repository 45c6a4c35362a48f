"""contextkit stays offline whichever of litellm and contextkit a program imports first. Each case
is a fresh interpreter with the network unreachable (tests/no_network/sitecustomize.py records
every attempt), a real model call to a local server, token counting and a cost lookup."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

HERE = Path(__file__).resolve().parent

AGENT = textwrap.dedent("""
    import json, sys, time
    first = sys.argv[2]
    t0 = time.time()
    if first == "litellm":
        import litellm
        import contextkit
    else:
        import contextkit
        import litellm
    imported = time.time()
    from litellm.litellm_core_utils.get_model_cost_map import GetModelCostMap, get_model_cost_map_source_info
    s = contextkit.Session(name="offline")
    msgs = [{"role": "user", "content": "count these tokens, please " * 20}]
    r = s.completion(model="openai/gpt-4o-mini", messages=msgs, api_base=sys.argv[1], api_key="sk-test")
    s.close()
    rec = s.steps[-1]
    print(json.dumps({
        "import_s": imported - t0, "answer": r.choices[0].message.content, "tokens": s.last_report.tokens_after,
        "cost": rec.cost_usd, "source": get_model_cost_map_source_info()["source"],
        "local": litellm.model_cost.get("gpt-4o-mini") == GetModelCostMap.load_local_model_cost_map().get("gpt-4o-mini"),
    }))
""")


def run(tmp_path, server, first: str, **env_extra: str) -> tuple[dict, list[str], str]:
    log = tmp_path / f"network-{first}.log"
    env = dict(os.environ, PYTHONPATH=str(HERE / "no_network"), NO_NETWORK_LOG=str(log), CONTEXTKIT_TRACING="off")
    for var in ("LITELLM_LOCAL_MODEL_COST_MAP", "TIKTOKEN_CACHE_DIR", "CUSTOM_TIKTOKEN_CACHE_DIR"):
        env.pop(var, None)  # a user's shell: the test process's own contextkit set these
    env.update(env_extra)
    done = subprocess.run([sys.executable, "-c", AGENT, server.base_url, first], capture_output=True, text=True,
                          env=env, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    attempts = log.read_text().splitlines() if log.exists() else []
    return json.loads(done.stdout.strip().splitlines()[-1]), attempts, done.stderr


def check_offline_work(out: dict) -> None:
    assert out["answer"] == "ok" and out["tokens"] > 20 and out["cost"] is not None
    assert out["source"] == "local" and out["local"]  # litellm's bundled price map


def test_contextkit_first_never_touches_the_network(tmp_path, openai_server):
    out, attempts, err = run(tmp_path, openai_server, "contextkit")
    check_offline_work(out)
    assert attempts == [], attempts
    assert "LITELLM_LOCAL_MODEL_COST_MAP" not in err


def test_litellm_first_uses_the_bundled_map_and_says_how_to_stay_offline(tmp_path, openai_server):
    out, attempts, err = run(tmp_path, openai_server, "litellm")
    check_offline_work(out)
    # litellm's own import asked for its price map before contextkit existed; contextkit says so,
    # and what to do, in one line
    assert attempts and all("githubusercontent" in a for a in attempts), attempts
    assert "litellm was imported before contextkit" in err and "LITELLM_LOCAL_MODEL_COST_MAP=True" in err


def test_the_readme_setting_keeps_litellm_first_offline(tmp_path, openai_server):
    out, attempts, err = run(tmp_path, openai_server, "litellm", LITELLM_LOCAL_MODEL_COST_MAP="True")
    check_offline_work(out)
    assert attempts == [], attempts
    assert "litellm was imported before contextkit" not in err


def test_litellm_first_with_a_price_map_from_the_network_gets_the_bundled_one_back(tmp_path, openai_server):
    """litellm fetched a map that differs from its bundled one (served here from 127.0.0.1): after
    `import contextkit` the costs come from the bundled map again."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from litellm.litellm_core_utils.get_model_cost_map import GetModelCostMap

    remote = GetModelCostMap.load_local_model_cost_map()
    remote["gpt-4o-mini"] = dict(remote["gpt-4o-mini"], input_cost_per_token=1.0, output_cost_per_token=1.0)
    body = json.dumps(remote).encode()

    class Map(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Map)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{httpd.server_address[1]}/model_prices.json"
        out, attempts, err = run(tmp_path, openai_server, "litellm", LITELLM_MODEL_COST_MAP_URL=url)
    finally:
        httpd.shutdown()
        httpd.server_close()
    assert attempts == []  # only this machine was asked
    assert out["local"] and out["cost"] < 0.01, out  # not the fetched price of $1 a token
    assert "litellm was imported before contextkit" in err
