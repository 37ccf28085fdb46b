#!/usr/bin/python3
"""A fake Telegram Bot API for the demo and the tests: the bot talks to it, never to Telegram.

    /usr/bin/python3 deploy/demo/fake_telegram_api.py --listen 127.0.0.1:PORT [--log FILE]

Point the bot at it with TELEGRAM_API_URL=http://127.0.0.1:PORT/bot (any token is accepted).
It answers what python-telegram-bot 13 calls (getMe, deleteWebhook, getUpdates with offset and
long polling, sendMessage); any other method gets Telegram's 404 answer. Test controls:

    POST /_fake/updates  {"text": "/start", "chat_id": 42}   queues a message for the bot
    GET  /_fake/sent                                         the messages the bot sent (JSON)

One log line per call (the method, never the token). Standard library only.
"""
import argparse
import json
import signal
import sys
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

MAX_KEPT = 1000  # queued updates and sent messages: bounded, whatever a test does
MAX_POLL = 10.0  # longest getUpdates wait, whatever timeout the bot asks for

lock = threading.Condition()
updates = deque(maxlen=MAX_KEPT)  # not yet confirmed by the bot (offset)
sent = deque(maxlen=MAX_KEPT)
counters = {"update_id": 0, "message_id": 0}
log_file = sys.stderr


def log(line):
    with lock:
        print(time.strftime("%H:%M:%S"), line, file=log_file, flush=True)


def bot_user(token):
    bot_id = token.split(":", 1)[0]
    return {"id": int(bot_id) if bot_id.isdigit() else 1, "is_bot": True,
            "first_name": "HomeGuru (fake)", "username": "homeguru_fake_bot",
            "can_join_groups": True, "can_read_all_group_messages": False,
            "supports_inline_queries": False}


def chat_id_of(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return value  # an @channel name


def get_updates(params):
    offset = int(params.get("offset") or 0)
    limit = min(int(params.get("limit") or 100), 100)
    deadline = time.monotonic() + min(float(params.get("timeout") or 0), MAX_POLL)
    with lock:
        # As Telegram: an offset confirms every update before it.
        while updates and updates[0]["update_id"] < offset:
            updates.popleft()
        while not updates and time.monotonic() < deadline:
            lock.wait(deadline - time.monotonic())
        while updates and updates[0]["update_id"] < offset:
            updates.popleft()
        return list(updates)[:limit]


def send_message(token, params):
    with lock:
        counters["message_id"] += 1
        message = {"message_id": counters["message_id"], "date": int(time.time()),
                   "chat": {"id": chat_id_of(params.get("chat_id")), "type": "private"},
                   "from": bot_user(token), "text": str(params.get("text", ""))}
        sent.append(message)
    return message


def queue_update(body):
    text = str(body.get("text", ""))
    chat_id = chat_id_of(body.get("chat_id", 42))
    with lock:
        counters["update_id"] += 1
        counters["message_id"] += 1
        message = {"message_id": counters["message_id"], "date": int(time.time()),
                   "chat": {"id": chat_id, "type": "private", "first_name": "Tester"},
                   "from": {"id": chat_id, "is_bot": False, "first_name": "Tester"},
                   "text": text}
        if text.startswith("/"):  # Telegram marks commands; CommandHandler needs the entity
            message["entities"] = [{"type": "bot_command", "offset": 0,
                                    "length": len(text.split()[0])}]
        update = {"update_id": counters["update_id"], "message": message}
        updates.append(update)
        lock.notify_all()
    return update


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # the default line would print the path, token included
        pass

    def answer(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def params(self):
        url = urlsplit(self.path)
        params = dict(parse_qsl(url.query))
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        kind = self.headers.get("Content-Type", "").split(";")[0].strip()
        if raw and kind == "application/json":
            params.update(json.loads(raw))
        elif raw:  # application/x-www-form-urlencoded
            params.update(parse_qsl(raw.decode()))
        return url.path, params

    def handle_call(self):
        try:
            path, params = self.params()
        except (ValueError, TypeError, UnicodeDecodeError) as exc:
            log(f"{self.command} bad request: {exc}")
            return self.answer(400, {"ok": False, "error_code": 400,
                                     "description": "Bad Request: cannot parse the body"})
        if path == "/_fake/updates" and self.command == "POST":
            update = queue_update(params)
            log(f"_fake/updates queued update {update['update_id']}: {params.get('text', '')!r}")
            return self.answer(200, {"ok": True, "result": update})
        if path == "/_fake/sent":
            with lock:
                result = list(sent)
            log(f"_fake/sent ({len(result)} messages)")
            return self.answer(200, result)
        parts = path.split("/")
        if len(parts) != 3 or not parts[1].startswith("bot") or len(parts[1]) < 4:
            log(f"{self.command} not found (not /bot<token>/<method>)")
            return self.answer(404, {"ok": False, "error_code": 404, "description": "Not Found"})
        token, method = parts[1][3:], parts[2]
        name = method.lower()  # Telegram's method names are case-insensitive
        if name == "getme":
            result = bot_user(token)
        elif name == "deletewebhook":
            result = True
        elif name == "getupdates":
            result = get_updates(params)
        elif name == "sendmessage":
            result = send_message(token, params)
        else:
            log(f"{method} -> 404 method not found")
            return self.answer(404, {"ok": False, "error_code": 404,
                                     "description": "Not Found: method not found"})
        detail = f" ({len(result)} updates)" if name == "getupdates" else ""
        log(f"{method}{detail}")
        return self.answer(200, {"ok": True, "result": result})

    do_GET = do_POST = handle_call


def main():
    global log_file
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--listen", required=True, help="HOST:PORT, e.g. 127.0.0.1:8081")
    parser.add_argument("--log", help="append the call log here instead of stderr")
    args = parser.parse_args()
    host, _, port = args.listen.rpartition(":")
    if args.log:
        log_file = open(args.log, "a", encoding="utf-8")
    server = ThreadingHTTPServer((host, int(port)), Handler)
    server.daemon_threads = True  # a long poll in progress does not hold up the exit

    def stop(signum, _frame):
        log(f"signal {signum}: stopping")
        # shutdown() waits for serve_forever(), which runs in this (the main) thread.
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log(f"fake Telegram Bot API on http://{args.listen}/bot<token>/<method>")
    server.serve_forever(poll_interval=0.2)
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
