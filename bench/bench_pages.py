#!/usr/bin/env python
"""Every page over real HTTP under the production server, at each level, against the
hand-written SQL that returns the same rows; and the load mix.

    .venv/bin/python bench/bench_pages.py \
        --database-url postgres://postgres@127.0.0.1:5432/minqing_bench --port 8114

- Starts gunicorn (minqing/gunicorn_conf.py, DEBUG off) on --port against the database,
  logs in over HTTP (the login form, a real session) as the generated users of each level
  (grid, village, township, county, city), and times each page of the registry, areas and
  audit; interleaved with the raw SQL of the same rows on a second connection (jit off,
  like the app). Reported per page and level: median HTTP / median SQL, the spread
  (the 10th-90th percentiles of the per-repeat ratios), the bytes and the queries the app
  ran (from a DEBUG-off query counter: the X-Queries header is not used, the count comes
  from running the same view once under CaptureQueriesContext).
- `--load`: 30 township users (threads, keep-alive) request a mix of lists, searches and
  household pages for --load-seconds; then the same against a trivial @login_required
  view (/healthz-like `/bench-trivial/`, mounted only when MINQING_BENCH=1); req/s and
  p95 of both.
- `--fill-audit N`: first add N realistic audit events (views, reveals, exports, edits by
  the generated users on their own areas over a year) if the log holds fewer.
- `--explain`: EXPLAIN ANALYZE of the raw SQL of the three slowest pages.
- The floor: each page's hand-written SQL also runs inside the same gunicorn, behind the same
  middleware and login, in a bare view (`/bench-floor/<key>/`, mounted with MINQING_BENCH=1,
  statements from the file named by MINQING_BENCH_FLOOR): HTTP / floor is what the product
  adds over Django and HTTP; HTTP / SQL stays the issue's baseline.
- The fixed cost: first, a trivial @login_required view and a page of the layout alone
  (`/bench-shell/`: base.html with an empty block), interleaved `--fixed-repeats` times
  as the first user: what every page pays before its own work (median, 10-90 %).
- `--redis-url`: run the server with Redis (shared cache, cached_db sessions, Celery
  runner: export jobs are queued, not run inside the measured workers), as in production.
"""

import argparse
import http.client
import json
import os
import random
import re
import statistics
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode, urlsplit
from zoneinfo import ZoneInfo

import psycopg

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "minqing-bench"


# ---------------------------------------------------------------- HTTP


class Session:
    """One logged-in browser: cookies, keep-alive connection, CSRF on the login form."""

    def __init__(self, port: int):
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        self.cookies: dict[str, str] = {}

    def request(self, method, path, body=None, headers=None):
        h = {"Host": "127.0.0.1", "Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}
        h.update(headers or {})
        for attempt in range(2):
            try:
                self.conn.request(method, path, body=body, headers=h)
                resp = self.conn.getresponse()
                data = resp.read()
                break
            except (http.client.HTTPException, ConnectionError):
                self.conn.close()
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
                if attempt:
                    raise
        for k, v in resp.getheaders():
            if k.lower() == "set-cookie":
                name, _, rest = v.partition("=")
                self.cookies[name] = rest.split(";")[0]
        return resp.status, data, dict(resp.getheaders())

    def login(self, username):
        status, body, _ = self.request("GET", "/login/")
        token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', body).group(1).decode()
        form = urlencode({"username": username, "password": PASSWORD, "csrfmiddlewaretoken": token})
        status, body, _ = self.request(
            "POST",
            "/login/",
            body=form,
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "Referer": f"http://127.0.0.1:{self.port}/login/",
            },
        )
        assert status == 302, (username, status, body[:300])
        return self


def start_server(database_url, port, workers, redis_url=None, floor_file=None):
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "DEBUG": "0",
        "SECRET_KEY": "bench-only-" + "x" * 40,
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "WEB_BIND": f"127.0.0.1:{port}",
        "WEB_WORKERS": str(workers),
        "WEB_THREADS": "1",  # sync workers, as measured before (without Redis the default is threads)
        "WEB_ACCESS_LOG": "",
        "WEB_TIMEOUT": "120",
        "MINQING_BENCH": "1",
        "LOGIN_RATE_LIMIT": "100000",
    }
    env.pop("REDIS_URL", None)
    if redis_url:
        env["REDIS_URL"] = redis_url
    if floor_file:
        env["MINQING_BENCH_FLOOR"] = floor_file
    proc = subprocess.Popen(
        [
            str(ROOT / ".venv/bin/gunicorn"),
            "minqing.wsgi:application",
            "-c",
            "minqing/gunicorn_conf.py",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=open(f"/tmp/bench_pages_{port}.log", "w"),
    )
    for _ in range(100):
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            c.request("GET", "/healthz")
            if c.getresponse().status == 200:
                return proc
        except OSError:
            time.sleep(0.3)
    proc.kill()
    raise SystemExit(f"gunicorn did not start, see /tmp/bench_pages_{port}.log")


# ---------------------------------------------------------------- the city


def users_by_level(cur):
    """A generated user per level (the first by code), and the supervisors for the audit."""
    cur.execute(
        """SELECT DISTINCT ON (a.level) a.level, u.username, a.id, a.path
           FROM accounts_user u JOIN accounts_jurisdiction j ON j.user_id = u.id
           JOIN areas_area a ON a.id = j.area_id
           WHERE u.role IN ('grid_worker','village_cadre','township_staff','leader')
           ORDER BY a.level, a.path, u.username"""
    )
    names = {1: "city", 2: "county", 3: "township", 4: "village", 5: "grid"}
    return {names[lvl]: {"user": u, "area": a, "path": p} for lvl, u, a, p in cur.fetchall()}


def supervisors(cur):
    cur.execute(
        """SELECT DISTINCT ON (a.level) a.level, u.username, a.path
           FROM accounts_user u JOIN accounts_jurisdiction j ON j.user_id = u.id
           JOIN areas_area a ON a.id = j.area_id WHERE u.role = 'supervisor'
           ORDER BY a.level, a.path"""
    )
    return {{1: "city", 2: "county"}.get(lvl, f"L{lvl}"): (u, p) for lvl, u, p in cur.fetchall()}


def fill_audit(conn, n):
    """N audit events by the generated users on areas of their jurisdiction, over a year."""
    t = time.perf_counter()
    got = fill_audit_cursor(conn.cursor(), n)
    conn.commit()
    print(f"audit log holds {got:,} events ({time.perf_counter() - t:.1f} s)")
    return got


def fill_audit_cursor(cur, n):
    """The same, on any DB-API cursor (bench/generate.py passes Django's)."""
    cur.execute("SELECT count(*) FROM core_auditevent")
    have = cur.fetchone()[0]
    if have >= n:
        return have
    cur.execute(
        """
        CREATE TEMP TABLE actors AS
        SELECT row_number() OVER () AS i, u.id, u.username, j.area_id
        FROM accounts_user u JOIN accounts_jurisdiction j ON j.user_id = u.id
        JOIN areas_area a ON a.id = j.area_id WHERE a.level >= 3;
        CREATE TEMP TABLE acts(i int, action text, ttype text);
        INSERT INTO acts VALUES
          (1,'registry.household_view','household'),(2,'registry.household_view','household'),
          (3,'registry.household_view','household'),(4,'registry.reveal_id','resident'),
          (5,'registry.reveal_phone','resident'),(6,'registry.household_update','household'),
          (7,'registry.resident_update','resident'),(8,'registry.tag_give','household'),
          (9,'registry.tag_remove','household'),(10,'registry.move','resident'),
          (11,'registry.export','area'),(12,'auth.login','user');
        """
    )
    cur.execute("SELECT count(*) FROM actors")
    n_actors = cur.fetchone()[0]
    cur.execute(
        """
        INSERT INTO core_auditevent (at, actor_id, actor_label, action, target_type, target_id,
                                     target_repr, area_id, channel, detail)
        SELECT timestamptz '2025-06-30 09:00+08' - (random() * interval '365 days'),
               a.id, a.username, c.action, c.ttype, (1 + (random() * 999999)::int)::text,
               '', a.area_id, 'web', '{}'::jsonb
        FROM generate_series(1, %s) g
        JOIN actors a ON a.i = 1 + (g::bigint * 7919) %% %s
        JOIN acts c ON c.i = 1 + (g::bigint * 31) %% 12
        """,
        [n - have, n_actors],
    )
    cur.execute("DROP TABLE actors; DROP TABLE acts")
    return n


# ---------------------------------------------------------------- raw SQL per page

LIST_ROWS = """
WITH rows AS (
  SELECT h.id, h.number, h.address, g.name AS grid, hd.name AS head
  FROM registry_household h JOIN areas_area g ON g.id = h.grid_id
  LEFT JOIN registry_resident hd ON hd.id = h.head_id
  WHERE g.path LIKE %(p)s {extra}
  ORDER BY g.path, h.number LIMIT 20)
SELECT r.*,
  (SELECT count(*) FROM registry_resident m WHERE m.household_id = r.id AND m.status = 'living'),
  (SELECT string_agg(t.name, '、') FROM registry_tagperiod tp JOIN registry_tag t ON t.id = tp.tag_id
    WHERE tp.household_id = r.id AND tp.end_date IS NULL)
FROM rows r
"""
TAG_EXISTS = """AND EXISTS (SELECT 1 FROM registry_tagperiod tp JOIN registry_tag t ON t.id = tp.tag_id
  WHERE tp.household_id = h.id AND t.code = %(tag)s AND tp.end_date IS NULL)"""
NAME_EXISTS = """AND h.id IN (SELECT r.household_id FROM registry_resident r
  WHERE r.name_norm LIKE %(like)s)"""
PINYIN_EXISTS = """AND h.id IN (SELECT r.household_id FROM registry_resident r
  WHERE r.name_pinyin LIKE %(prefix)s OR r.name_initials LIKE %(prefix)s)"""
KEPT_TOTAL = """SELECT sum(s.households) FROM registry_gridsummary s JOIN areas_area a ON a.id = s.grid_id
  WHERE a.path LIKE %(p)s"""
KEPT_TAG = """SELECT sum(s.count) FROM registry_gridtagsummary s JOIN areas_area a ON a.id = s.grid_id
  JOIN registry_tag t ON t.id = s.tag_id WHERE a.path LIKE %(p)s AND t.code = %(tag)s"""
COUNT_MATCH = """SELECT count(*) FROM registry_household h JOIN areas_area g ON g.id = h.grid_id
  WHERE g.path LIKE %(p)s {extra}"""
OVERVIEW = [
    """SELECT sum(households), sum(residents), sum(tagged) FROM registry_gridsummary s
       JOIN areas_area a ON a.id = s.grid_id WHERE a.path LIKE %(p)s""",
    """SELECT s.tag_id, sum(s.count) FROM registry_gridtagsummary s JOIN areas_area a ON a.id = s.grid_id
       WHERE a.path LIKE %(p)s GROUP BY s.tag_id""",
    """SELECT substr(a.path, 1, %(child)s), sum(households), sum(residents), sum(tagged)
       FROM registry_gridsummary s JOIN areas_area a ON a.id = s.grid_id
       WHERE a.path LIKE %(p)s GROUP BY 1""",
]
# A grid's area page also lists its households (areas.views.GRID_HOUSEHOLDS, 300 at most):
# until the session-26 integration the baseline left that read out and the grid's page was
# held to the overview alone.
GRID_HOUSEHOLDS = """SELECT h.id, hd.name, h.address, h.number FROM registry_household h
   JOIN areas_area g ON g.id = h.grid_id LEFT JOIN registry_resident hd ON hd.id = h.head_id
   WHERE h.grid_id = %(area)s AND g.path LIKE %(p)s ORDER BY h.number LIMIT 300"""
DETAIL = [
    """SELECT h.*, g.name, hd.name FROM registry_household h JOIN areas_area g ON g.id = h.grid_id
       LEFT JOIN registry_resident hd ON hd.id = h.head_id WHERE h.id = %(h)s AND g.path LIKE %(p)s""",
    "SELECT * FROM registry_resident WHERE household_id = %(h)s",
    """SELECT tp.*, t.name FROM registry_tagperiod tp JOIN registry_tag t ON t.id = tp.tag_id
       WHERE tp.household_id = %(h)s ORDER BY tp.end_date, tp.start_date DESC""",
    """SELECT * FROM registry_move WHERE from_household_id = %(h)s OR to_household_id = %(h)s
       ORDER BY date DESC""",
]
# The household page also shows its sections (core.sections): the household's latest 20
# visits with who went, whom they met, what they raised, notes and photos (visits), the open
# surveys of its area, and its appeals (appeals). Until perf3 the baseline left them out and
# the page's ratio compared 16 queries of rows with 4.
DETAIL_SECTIONS = [
    """SELECT v.id, v.visited_at, v.place, v.met_others, v.situation, u.username
       FROM visits_visit v JOIN areas_area g ON g.id = v.grid_id
       JOIN accounts_user u ON u.id = v.recorded_by_id
       WHERE v.household_id = %(h)s AND g.path LIKE %(p)s
       ORDER BY v.visited_at DESC, v.id DESC LIMIT 20""",
    """WITH v AS (SELECT v.id FROM visits_visit v JOIN areas_area g ON g.id = v.grid_id
                  WHERE v.household_id = %(h)s AND g.path LIKE %(p)s
                  ORDER BY v.visited_at DESC, v.id DESC LIMIT 20)
       SELECT x.visit_id, 'visitor', u.username FROM visits_visit_visitors x
         JOIN accounts_user u ON u.id = x.user_id WHERE x.visit_id IN (SELECT id FROM v)
       UNION ALL SELECT m.visit_id, 'met', r.name FROM visits_visit_met_members m
         JOIN registry_resident r ON r.id = m.resident_id WHERE m.visit_id IN (SELECT id FROM v)
       UNION ALL SELECT f.visit_id, f.kind, f.text || coalesce(r.name, '')
         FROM visits_visitfinding f LEFT JOIN registry_tagperiod tp ON tp.id = f.tag_period_id
         LEFT JOIN registry_resident r ON r.id = tp.resident_id WHERE f.visit_id IN (SELECT id FROM v)
       UNION ALL SELECT n.visit_id, 'note', n.text || u.username FROM visits_visitnote n
         JOIN accounts_user u ON u.id = n.author_id WHERE n.visit_id IN (SELECT id FROM v)
       UNION ALL SELECT p.visit_id, 'photo', p.original_name FROM visits_visitphoto p
         WHERE p.visit_id IN (SELECT id FROM v)""",
    """SELECT s.id, s.title FROM visits_survey s JOIN areas_area a ON a.id = s.area_id
       WHERE s.status = 'open' AND %(p)s LIKE a.path || '%%'
       AND NOT EXISTS (SELECT 1 FROM visits_surveyresponse r
                       WHERE r.survey_id = s.id AND r.household_id = %(h)s)
       ORDER BY s.created_at DESC LIMIT 5""",
    """SELECT ap.id, ap.state, ap.created_at, c.name FROM appeals_appeal ap
       JOIN areas_area a ON a.id = ap.area_id JOIN appeals_category c ON c.id = ap.category_id
       WHERE ap.household_id = %(h)s AND a.path LIKE %(p)s ORDER BY ap.created_at DESC LIMIT 20""",
]
# The home page of every role the bench logs in as (grid worker, village cadre, township
# staff, leader) also shows two panels besides the registry overview: "my duties" (the first
# 5 appeals to act on, overdue first, with how many there are and how many are overdue) and
# the due visits (the 8 nearest due households with their last visit and the rules that make
# them due, and how many are due). OVERVIEW alone leaves their rows out; "home (panels in
# SQL)" times the page against OVERVIEW + these, "home" keeps the overview alone.
HOME_DUTIES = """
SELECT a.id, a.title, a.state, a.due_at, count(*) OVER (),
       count(*) FILTER (WHERE a.due_at < now()) OVER ()
FROM appeals_appeal a
WHERE (a.owner_id = %(uid)s AND a.state IN ('claimed', 'assigned', 'in_progress'))
   OR (a.unit_id = %(unit)s AND a.owner_id IS NULL AND a.state = 'assigned')
   OR (a.state = 'accepted' AND {waiting})
ORDER BY a.due_at NULLS LAST, a.id LIMIT 5
"""
# unclaimed matters waiting at the role's level (the village for grid workers and village
# cadres, the township, the county for leaders) in the user's area: the ids of those areas
# are looked up first (pages_for), as the app keeps them per process; a subselect here made
# PostgreSQL filter all 40,000 waiting matters (150-250 ms)
WAITING_IN = "a.handling_area_id = ANY(%(waiting)s)"
# a grid worker's: waiting at the grid's village, raised in the grid
WAITING_BELOW = "a.handling_area_id = %(parent)s AND a.area_id = %(area)s"
HOME_DUE = """
WITH firsts AS (
  SELECT d.household_id, d.due, count(*) OVER () AS total
  FROM areas_area g JOIN visits_householddue d ON d.grid_id = g.id
  WHERE g.path LIKE %(p)s AND d.due <= %(until)s
  ORDER BY d.due, d.household_id LIMIT 8)
SELECT f.household_id, f.due, f.total, h.number, h.address, g.name, r.name,
  lv.visited_at, lv.follow_up_date,
  (SELECT string_agg(vr.name || ' ' || vr.interval_days || ' ' || tp.start_date, '、')
   FROM registry_tagperiod tp JOIN visits_visitrule vr ON vr.tag_id = tp.tag_id
   WHERE tp.household_id = f.household_id AND tp.end_date IS NULL
     AND tp.start_date <= %(today)s AND vr.is_active AND vr.kind = 'tag')
FROM firsts f JOIN registry_household h ON h.id = f.household_id
JOIN areas_area g ON g.id = h.grid_id LEFT JOIN registry_resident r ON r.id = h.head_id
LEFT JOIN visits_lastvisit lv ON lv.household_id = f.household_id
ORDER BY f.due, f.household_id
"""
EXPORT_ROWS = """
SELECT h.number, g.code, g.name, h.address, hd.name, hd.id_number, h.phone,
  (SELECT count(*) FROM registry_resident m WHERE m.household_id = h.id AND m.status = 'living'),
  (SELECT string_agg(t.name, '、') FROM registry_tagperiod tp JOIN registry_tag t ON t.id = tp.tag_id
    WHERE tp.household_id = h.id AND tp.end_date IS NULL), h.notes
FROM registry_household h JOIN areas_area g ON g.id = h.grid_id
LEFT JOIN registry_resident hd ON hd.id = h.head_id
WHERE g.path LIKE %(p)s ORDER BY g.path, h.number
"""
# The audit page shows the newest 50 events and a link to older ones (keyset, no total
# since perf2): its SQL is the page's rows (51: one more says whether an older page exists).
# Before perf2 the page also counted the whole log and the baseline had that count too.
AUDIT_ROWS = [
    """SELECT e.*, a.name FROM core_auditevent e JOIN areas_area a ON a.id = e.area_id
       WHERE a.path LIKE %(p)s ORDER BY e.at DESC, e.id DESC LIMIT 51""",
]
# What the resident list shows of each row: the resident's columns, the household's number
# and its head's name (the household is named after its head), the grid, and the resident's
# current tags. Before perf8b round 2 the baseline left out the head's name and the tags.
RESIDENT_ROWS = """
WITH rows AS (
  SELECT r.id, r.name, r.id_number, r.gender, r.birth_date, r.phone, r.relation, r.status,
    r.status_date, r.household_id, h.number, h.head_id, hd.name AS head, g.name AS grid
  FROM registry_resident r JOIN registry_household h ON h.id = r.household_id
  JOIN areas_area g ON g.id = h.grid_id LEFT JOIN registry_resident hd ON hd.id = h.head_id
  WHERE g.path LIKE %(p)s AND r.status = 'living' ORDER BY g.path, h.number, r.id LIMIT 20)
SELECT r.*,
  (SELECT string_agg(t.name, '、' ORDER BY t."order", t.name) FROM registry_tagperiod tp
    JOIN registry_tag t ON t.id = tp.tag_id WHERE tp.resident_id = r.id AND tp.end_date IS NULL)
FROM rows r
"""
KEPT_LIVING = """SELECT sum(s.residents) FROM registry_gridsummary s JOIN areas_area a ON a.id = s.grid_id
  WHERE a.path LIKE %(p)s"""


def pages_for(level, info, cur):
    """(name, url, [sql statements], params) for one level's user."""
    p = info["path"] + "%"
    cur.execute(
        """SELECT h.id FROM registry_household h JOIN areas_area g ON g.id = h.grid_id
           WHERE g.path LIKE %s ORDER BY g.path, h.number LIMIT 1""",
        [p],
    )
    hid = cur.fetchone()[0]
    cur.execute(
        """SELECT r.name_norm, r.name_pinyin FROM registry_resident r JOIN registry_household h
           ON h.id = r.household_id WHERE h.id = %s LIMIT 1""",
        [hid],
    )
    name, pinyin = cur.fetchone()
    cur.execute(
        "SELECT min(length(path)) FROM areas_area WHERE path LIKE %s AND id <> %s",
        [p, info["area"]],
    )
    child = cur.fetchone()[0] or len(info["path"])
    # the home panels' user: id, unit, the level its matters wait at (appeals ROLE_LEVEL)
    cur.execute(
        """SELECT u.id, coalesce(u.unit_id, 0), u.role, a.level, coalesce(a.parent_id, 0)
           FROM accounts_user u, areas_area a WHERE u.username = %s AND a.id = %s""",
        [info.get("user", ""), info["area"]],
    )
    uid, unit, role, area_level, parent = cur.fetchone() or (0, 0, "", 0, 0)
    wlevel = {"grid_worker": 4, "village_cadre": 4, "township_staff": 3, "leader": 2}.get(role, 0)
    waiting = WAITING_IN if area_level <= wlevel else WAITING_BELOW
    cur.execute(
        "SELECT coalesce(array_agg(id ORDER BY id), '{}') FROM areas_area"
        " WHERE level = %s AND path LIKE %s",
        [wlevel, p],
    )
    waiting_ids = list(cur.fetchone()[0])
    today = datetime.now(ZoneInfo("Asia/Shanghai")).date()  # the app's TIME_ZONE
    params = {
        "uid": uid,
        "unit": unit,
        "waiting": waiting_ids,
        "parent": parent,
        "area": info["area"],
        "today": today.isoformat(),  # text: the params also go to the floor's JSON file
        "until": (today + timedelta(days=7)).isoformat(),  # visits DUE_HORIZON_DAYS
        "p": p,
        "tag": "dibao",
        "like": f"%{name}%",
        "prefix": f"{pinyin}%",
        "h": hid,
        "child": child,
    }
    # The village export answers inline; above it, the county/city export is a job
    # (measured: the request that starts it).
    export_sql = [EXPORT_ROWS] if level == "village" else [KEPT_TOTAL]
    pages = [
        ("home", "/", OVERVIEW),
        ("home (panels in SQL)", "/", [HOME_DUTIES.format(waiting=waiting), HOME_DUE, *OVERVIEW]),
        ("household list", "/registry/households/", [LIST_ROWS.format(extra=""), KEPT_TOTAL]),
        (
            "list ?tag=dibao",
            "/registry/households/?tag=dibao",
            [LIST_ROWS.format(extra=TAG_EXISTS), KEPT_TAG],
        ),
        (
            "search name",
            "/registry/households/?" + urlencode({"q": name}),
            [LIST_ROWS.format(extra=NAME_EXISTS), COUNT_MATCH.format(extra=NAME_EXISTS)],
        ),
        (
            "search pinyin",
            "/registry/households/?" + urlencode({"q": pinyin}),
            [LIST_ROWS.format(extra=PINYIN_EXISTS), COUNT_MATCH.format(extra=PINYIN_EXISTS)],
        ),
        ("resident list", "/registry/residents/?status=living", [RESIDENT_ROWS, KEPT_LIVING]),
        ("household page", f"/registry/households/{hid}/", DETAIL + DETAIL_SECTIONS),
        (
            "area page",
            f"/areas/{info['area']}/",
            OVERVIEW + ([GRID_HOUSEHOLDS] if level == "grid" else []),
        ),
        # a grid worker has no export right (403): no export cell at the grid level
        *([] if level == "grid" else [("export", "/registry/export/households.xlsx", export_sql)]),
        (
            "API ?tag=dibao",
            "/api/registry/households?tag=dibao",
            [LIST_ROWS.format(extra=TAG_EXISTS), KEPT_TAG],
        ),
    ]
    return pages, params


# ---------------------------------------------------------------- timing


def q(values, frac):
    values = sorted(values)
    return values[min(len(values) - 1, int(frac * len(values)))]


def time_sql(cur, statements, params):
    t = time.perf_counter()
    for sql in statements:
        cur.execute(sql, params)
        cur.fetchall()
    return time.perf_counter() - t


def measure(session, cur, url, statements, params, repeats, floor_url=None):
    http_t, sql_t, ratios, size, status, tmpl, queries = [], [], [], 0, 0, [], set()
    floor_t, floor_ratios = [], []
    session.request("GET", url)  # warm
    time_sql(cur, statements, params)
    if floor_url:
        fs, _b, _h = session.request("GET", floor_url)
        assert fs == 200, (floor_url, fs)
    for _ in range(repeats):
        t = time.perf_counter()
        status, body, headers = session.request("GET", url)
        h = time.perf_counter() - t
        s = time_sql(cur, statements, params)
        if floor_url:
            t = time.perf_counter()
            session.request("GET", floor_url)
            f = time.perf_counter() - t
            floor_t.append(f)
            floor_ratios.append(h / f)
        http_t.append(h)
        sql_t.append(s)
        ratios.append(h / s)
        size = len(body)
        tmpl.append(float(headers.get("X-Template-Ms", "nan")))
        queries.add(headers.get("X-Queries", "?"))
    return {
        "template_ms": statistics.median(tmpl),
        "queries": "/".join(sorted(queries)),
        "http": statistics.median(http_t),
        "sql": statistics.median(sql_t),
        "ratio": statistics.median(http_t) / statistics.median(sql_t),
        "spread": (q(ratios, 0.1), q(ratios, 0.9)),
        "floor": statistics.median(floor_t) if floor_t else float("nan"),
        "floor_ratio": statistics.median(http_t) / statistics.median(floor_t)
        if floor_t
        else float("nan"),
        "floor_spread": (q(floor_ratios, 0.1), q(floor_ratios, 0.9))
        if floor_ratios
        else (float("nan"),) * 2,
        "bytes": size,
        "status": status,
    }


def fixed_cost(session, repeats):
    """What every page pays before its own work, interleaved: a trivial @login_required view
    (the middleware stack, the session and its user) and a page of the layout alone
    (base.html with an empty block: the shell's rendering on top of that)."""
    urls = {"trivial view": "/bench-trivial/", "layout only": "/bench-shell/"}
    times = {name: [] for name in urls}
    for url in urls.values():
        for _ in range(5):
            status, _b, _h = session.request("GET", url)
            assert status == 200, (url, status)
    for _ in range(repeats):
        for name, url in urls.items():
            t = time.perf_counter()
            session.request("GET", url)
            times[name].append(time.perf_counter() - t)
    return {name: (statistics.median(v), q(v, 0.1), q(v, 0.9)) for name, v in times.items()}


def load(port, mixes, seconds):
    """One thread per (username, urls): a logged-in session requesting its urls at random
    for `seconds`. Logins happen first (password hashing is not part of the mix)."""
    sessions = [(Session(port).login(username), urls) for username, urls in mixes]
    stop = time.perf_counter() + seconds
    times, errors = [], [0]
    lock = threading.Lock()

    def worker(i):
        s, urls = sessions[i]
        rnd = random.Random(i)
        local = []
        while time.perf_counter() < stop:
            url = rnd.choice(urls)
            t = time.perf_counter()
            status, _b, _h = s.request("GET", url)
            local.append(time.perf_counter() - t)
            if status != 200:
                with lock:
                    errors[0] += 1
        with lock:
            times.extend(local)

    ts = [threading.Thread(target=worker, args=(i,)) for i in range(len(sessions))]
    t0 = time.perf_counter()
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    elapsed = time.perf_counter() - t0
    return {
        "rps": len(times) / elapsed,
        "p95": q(times, 0.95),
        "n": len(times),
        "errors": errors[0],
    }


def report(name, level, r):
    print(
        f"| {name} | {level} | {r['ratio']:.1f}× | {r['spread'][0]:.1f}–{r['spread'][1]:.1f} "
        f"| {r['floor_ratio']:.1f}× | {r['floor_spread'][0]:.1f}–{r['floor_spread'][1]:.1f} "
        f"| {r['http'] * 1000:.0f} | {r['sql'] * 1000:.1f} | {r['floor'] * 1000:.1f} "
        f"| {r['template_ms']:.0f} "
        f"| {r['queries']} | {r['bytes'] / 1024:.1f} | {r['status']} |",
        flush=True,
    )


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--database-url", required=True)
    ap.add_argument("--port", type=int, default=8114)
    ap.add_argument("--workers", type=int, default=3)
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--levels", default="grid,village,township,county,city")
    ap.add_argument("--fill-audit", type=int, default=0)
    ap.add_argument("--load", action="store_true")
    ap.add_argument("--load-seconds", type=int, default=20)
    ap.add_argument("--explain", action="store_true")
    ap.add_argument("--label", default="")
    ap.add_argument("--redis-url", default="")
    ap.add_argument("--no-floor", action="store_true")
    ap.add_argument("--pages", default="", help="only these pages (comma-separated names)")
    ap.add_argument(
        "--fixed-repeats",
        type=int,
        default=200,
        help="requests of the trivial view and of the layout alone, interleaved (0: skip)",
    )
    ap.add_argument(
        "--sql-prepare",
        type=int,
        default=5,
        help="the raw SQL's connection prepares a statement after this many runs (psycopg's"
        " default, 5: generic plans, no planning); 0 plans every run, as Django does",
    )
    args = ap.parse_args()

    u = urlsplit(args.database_url)
    conn = psycopg.connect(
        host=u.hostname,
        port=u.port or 5432,
        user=u.username,
        dbname=u.path.lstrip("/"),
        options="-c jit=off",
        prepare_threshold=args.sql_prepare or None,
    )
    if args.fill_audit:
        fill_audit(conn, args.fill_audit)
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE core_auditevent")
    conn.autocommit = True
    cur = conn.cursor()
    levels = users_by_level(cur)
    sups = supervisors(cur)
    # Every page of every level first (their SQL goes to the floor view's file), then the server.
    plan = []
    for level in [lv for lv in args.levels.split(",") if lv]:
        pages, params = pages_for(level, levels[level], cur)
        for i, (name, url, statements) in enumerate(pages):
            if args.pages and name not in args.pages.split(","):
                continue
            plan.append(
                (levels[level]["user"], name, level, url, statements, params, f"{level}-{i}")
            )
    audit = not args.pages or "audit log" in args.pages.split(",")
    for level in ("county", "city") if args.levels and audit else ():
        if level in sups:
            username, path = sups[level]
            params = {"p": path + "%"}
            plan.append(
                (username, "audit log", level, "/core/audit/", AUDIT_ROWS, params, f"audit-{level}")
            )
    floor_file = None
    if not args.no_floor:
        floor_file = f"/tmp/bench_floor_{args.port}.json"
        with open(floor_file, "w") as fh:
            json.dump({key: {"statements": st, "params": pa} for *_x, st, pa, key in plan}, fh)
    server = start_server(
        args.database_url, args.port, args.workers, args.redis_url or None, floor_file
    )
    results = []
    load_avg = os.getloadavg()
    print(
        f"load average {load_avg[0]:.1f} {load_avg[1]:.1f} {load_avg[2]:.1f}; {os.cpu_count()} cores"
    )
    print(
        "| page | level | HTTP/SQL | spread | HTTP/floor | spread | HTTP ms | SQL ms | floor ms "
        "| template ms | queries | kB | status |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    try:
        sessions = {}
        if plan and args.fixed_repeats:
            username = plan[0][0]
            sessions[username] = Session(args.port).login(username)
            for name, (median, lo, hi) in fixed_cost(
                sessions[username], args.fixed_repeats
            ).items():
                print(
                    f"fixed cost, {name}: {median * 1000:.2f} ms (10–90 %: {lo * 1000:.2f}–{hi * 1000:.2f})"
                )
        for username, name, level, url, statements, params, key in plan:
            if username not in sessions:
                sessions[username] = Session(args.port).login(username)
            floor_url = None if args.no_floor else f"/bench-floor/{key}/"
            r = measure(sessions[username], cur, url, statements, params, args.repeats, floor_url)
            results.append((name, level, r, statements, params))
            report(name, level, r)
        if args.explain:
            for name, level, r, statements, params in sorted(results, key=lambda x: -x[2]["http"])[
                :3
            ]:
                print(f"\n== {name} ({level}): {r['http'] * 1000:.0f} ms over HTTP")
                for sql in statements:
                    cur.execute(
                        "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY ON) " + sql, params
                    )
                    print("\n".join(row[0] for row in cur.fetchall()[:14]))
        if args.load:
            cur.execute(
                """SELECT u.username, a.id, a.path FROM accounts_user u
                   JOIN accounts_jurisdiction j ON j.user_id = u.id
                   JOIN areas_area a ON a.id = j.area_id WHERE u.role = 'township_staff'
                   ORDER BY a.path LIMIT 30"""
            )
            kinds = {
                "household list",
                "list ?tag=dibao",
                "search name",
                "search pinyin",
                "household page",
                "resident list",
            }
            mixes = []
            for username, area, path in cur.fetchall():
                pages, _params = pages_for("township", {"area": area, "path": path}, cur)
                mixes.append((username, [url for name, url, *_ in pages if name in kinds]))
            product = load(args.port, mixes, args.load_seconds)
            trivial = load(
                args.port, [(u, ["/bench-trivial/"]) for u, _m in mixes], args.load_seconds
            )
            print(
                f"\nload mix: {product['rps']:.1f} req/s, p95 {product['p95'] * 1000:.0f} ms "
                f"({product['n']} requests, {product['errors']} errors); trivial view: "
                f"{trivial['rps']:.1f} req/s, p95 {trivial['p95'] * 1000:.0f} ms; "
                f"ratio {product['rps'] / trivial['rps'] * 100:.1f} %"
            )
    finally:
        server.terminate()
        server.wait(timeout=30)
    return results


if __name__ == "__main__":
    sys.exit(0 if main() is not None else 1)
