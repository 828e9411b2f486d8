"""How many messages a bank receives, against the raw detections behind them.

Runs a simulated portfolio (three banks with overlapping watchlists, the
simulator's own) through the daemon in arrival order, each bank with its own
policy and a webhook receiver on a local port, and counts per bank: the
detections on its watched enterprises (any severity, recent), the alert
changes it was sent, and the messages (HTTP requests) it received. Grouping,
inhibition, the bank's minimum severity and its routes are what make the
messages fewer.

Usage: python bench/alert_volume.py [--enterprises 1000] [--seed 11]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import text  # noqa: E402

from alerts.watchlist import LoanRow  # noqa: E402
from monitor.app import Loanwatch  # noqa: E402
from monitor.config import parse_config  # noqa: E402
from monitor.simulate import iter_lines, simulate  # noqa: E402


def receiver():
    got: list[dict] = []

    class H(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            got.append({"path": self.path, **json.loads(body)})
            self.send_response(200)
            self.end_headers()

        def log_message(self, *a):
            pass

    srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv, got


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--enterprises", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=11)
    args = ap.parse_args()
    srv, got = receiver()
    hook = f"lwhook://127.0.0.1:{srv.server_address[1]}"
    pf = simulate(n_enterprises=args.enterprises, seed=args.seed)
    banks = [
        {"id": "bank_a", "name": "A", "min_severity": "medium", "channels": [hook + "/bank_a"]},
        {"id": "bank_b", "name": "B", "locale": "en", "min_severity": "medium",
         "escalate": {"exposure_at_least": 20_000_000}, "channels": [hook + "/bank_b"]},
        {"id": "bank_c", "name": "C", "min_severity": "high", "channels": [hook + "/bank_c"]},
    ]
    with tempfile.TemporaryDirectory() as tmp:
        cfg = parse_config({"global": {"store": f"sqlite:///{tmp}/v.db"}, "banks": banks})
        app = Loanwatch(cfg)
        for bank, rows in pf.watchlists.items():
            app.bank(bank).watch(LoanRow(r.enterprise_id, r.loan_id, float(r.exposure), None, None, r.name)
                                 for r in rows)
        # a month of data at a time, delivering in between, as the live daemon would
        app.ingest(((None, line) for line in iter_lines(pf)), detect_every=len(pf.enterprises) * 4)
        app.deliver_all_due()
        out = {}
        with app.engine.connect() as c:
            for bank in cfg.policies:
                detections = c.execute(text(
                    "select count(*) from detections d where d.status != 'historical' and exists "
                    "(select 1 from watchlist_entries w where w.bank_id = :b and w.enterprise_id = d.enterprise_id)"),
                    {"b": bank}).scalar()
                changes = c.execute(text("select count(*) from audit_log where bank_id = :b and action in "
                                         "('opened', 'reopened', 'escalated', 'resolved')"), {"b": bank}).scalar()
                held = dict(c.execute(text("select action, count(*) from audit_log where bank_id = :b and action in "
                                           "('inhibited', 'silenced', 'unrouted') group by action"),
                                      {"b": bank}).all())
                messages = [g for g in got if g["path"] == f"/{bank}"]
                out[bank] = {"watched": len(pf.watchlists[bank]), "raw_detections": detections,
                             "alert_changes": changes, "held": held, "messages": len(messages),
                             "messages_per_detection": round(len(messages) / detections, 3) if detections else None,
                             "grouped_messages": sum(1 for m in messages if m.get("related"))}
        app.close()
    srv.shutdown()
    print(json.dumps({"enterprises": args.enterprises, "seed": args.seed, "banks": out}, indent=1))


if __name__ == "__main__":
    main()
