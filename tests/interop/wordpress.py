"""A real WordPress (Debian's package) on 127.0.0.1, installed fresh into its own database.

Debian installs WordPress under /usr/share/wordpress with a wp-config.php that reads
/etc/wordpress/config-<host>.php. To leave /etc alone, each run lays out its own tree: the
entry points and wp-admin are copied (they find their configuration beside themselves),
wp-includes is linked, and wp-content is a fresh folder whose themes are linked.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import textwrap
import time
from pathlib import Path

import requests

WORDPRESS = Path("/usr/share/wordpress")
THEMES = WORDPRESS / "wp-content" / "themes"


def missing() -> str | None:
    """Return why a WordPress cannot be run here, or None when it can."""
    if not shutil.which("php"):
        return "PHP is not installed (apt-get install php-cli php-mysql php-xml)"
    if not (WORDPRESS / "wp-settings.php").exists():
        return "WordPress is not installed (apt-get install wordpress)"
    probe = subprocess.run(
        ["php", "-r", "echo extension_loaded('mysqli') && extension_loaded('xml') ? 'ok' : 'no';"],
        capture_output=True,
        text=True,
        check=False,
    )
    if probe.stdout.strip() != "ok":
        return "PHP lacks mysqli or xml (apt-get install php-mysql php-xml)"
    if not shutil.which("mariadb") and not shutil.which("mysql"):
        return "no MariaDB or MySQL client (apt-get install mariadb-server)"
    answer = _sql("SELECT 1", check=False)
    if answer.returncode != 0:
        return f"MariaDB does not answer to its local root account: {answer.stderr.strip()[:200]}"
    return None


def _sql(statement: str, check: bool = True) -> subprocess.CompletedProcess:
    client = shutil.which("mariadb") or shutil.which("mysql") or "mariadb"
    return subprocess.run(
        [client, "-u", "root", "--batch", "-e", statement],
        capture_output=True,
        text=True,
        check=check,
        timeout=30,
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class WordPress:
    """A fresh WordPress at self.url; self.php(code) runs PHP with WordPress loaded."""

    def __init__(self, root: Path, allowed_ports: list[int]):
        self.root = root
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.database = f"wp_interop_{secrets.token_hex(4)}"
        self.user = self.database
        self.password = secrets.token_hex(12)
        self.allowed_ports = allowed_ports
        self.server: subprocess.Popen | None = None
        self.log = root / "php-server.log"

    # --- set-up ---------------------------------------------------------------------------------

    def start(self) -> WordPress:
        _sql(
            f"CREATE DATABASE {self.database} CHARACTER SET utf8mb4;"
            f"CREATE USER '{self.user}'@'127.0.0.1' IDENTIFIED BY '{self.password}';"
            f"GRANT ALL ON {self.database}.* TO '{self.user}'@'127.0.0.1';"
        )
        self._lay_out_tree()
        env = {**os.environ, "PHP_CLI_SERVER_WORKERS": "4"}
        with self.log.open("w") as log:
            self.server = subprocess.Popen(
                ["php", "-S", f"127.0.0.1:{self.port}", "-t", str(self.tree)],
                cwd=self.tree,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                # Its own process group: PHP's server forks its workers, which outlive a
                # terminated parent (four stray servers a test run, before).
                start_new_session=True,
            )
        self._wait()
        self._install()
        return self

    @property
    def tree(self) -> Path:
        return self.root / "wordpress"

    def _lay_out_tree(self) -> None:
        tree = self.tree
        tree.mkdir(parents=True)
        for entry in WORDPRESS.iterdir():
            if entry.name in ("wp-config.php", "wp-content", "wp-includes"):
                continue
            if entry.is_dir():
                shutil.copytree(entry, tree / entry.name, symlinks=True)
            else:
                shutil.copy2(entry, tree / entry.name)
        (tree / "wp-includes").symlink_to(WORDPRESS / "wp-includes")
        content = tree / "wp-content"
        (content / "mu-plugins").mkdir(parents=True)
        (content / "uploads").mkdir()
        (content / "themes").symlink_to(THEMES)
        # WordPress fetches other sites only on ports 80, 443 and 8080 (or its own): this test's
        # servers listen on free ports, which the owner of a real blog would not need.
        ports = ", ".join(str(p) for p in self.allowed_ports)
        (content / "mu-plugins" / "interop-ports.php").write_text(
            "<?php\nadd_filter('http_allowed_safe_ports', function ($ports) {\n"
            f"    return array_merge($ports, array({ports}));\n}});\n"
        )
        (tree / "wp-config.php").write_text(
            textwrap.dedent(
                f"""\
                <?php
                define('DB_NAME', '{self.database}');
                define('DB_USER', '{self.user}');
                define('DB_PASSWORD', '{self.password}');
                define('DB_HOST', '127.0.0.1');
                define('DB_CHARSET', 'utf8mb4');
                define('WP_HOME', '{self.url}');
                define('WP_SITEURL', '{self.url}');
                define('WP_CONTENT_DIR', '{content}');
                define('DISABLE_WP_CRON', true);
                define('AUTOMATIC_UPDATER_DISABLED', true);
                define('WP_DEBUG', false);
                $table_prefix = 'wp_';
                if (!defined('ABSPATH')) define('ABSPATH', __DIR__ . '/');
                require_once ABSPATH . 'wp-settings.php';
                """
            )
        )

    def _wait(self) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.server.poll() is not None:
                raise RuntimeError(f"php -S stopped: {self.output()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("php -S did not listen within 30 s")

    def _install(self) -> None:
        # The install form, as a new blogger fills it in.
        answer = requests.post(
            f"{self.url}/wp-admin/install.php?step=2",
            data={
                "weblog_title": "Interop Blog",
                "user_name": "admin",
                "admin_password": "interop-password-1",
                "admin_password2": "interop-password-1",
                "pw_weak": "on",
                "admin_email": "admin@example.org",
                "blog_public": "0",
                "language": "",
            },
            timeout=60,
        )
        if "Success!" not in answer.text:
            raise RuntimeError(
                f"WordPress did not install: {answer.status_code} {answer.text[:500]}"
            )

    def stop(self) -> None:
        if self.server is not None:
            self._signal(signal.SIGTERM)
            try:
                self.server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._signal(signal.SIGKILL)
                self.server.wait()
        _sql(
            f"DROP DATABASE IF EXISTS {self.database}; DROP USER IF EXISTS '{self.user}'@'127.0.0.1';",
            check=False,
        )

    def _signal(self, number: int) -> None:
        """Send the signal to the server and every worker it forked."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.server.pid, number)

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""

    # --- using it -------------------------------------------------------------------------------

    def php(self, code: str, timeout: int = 120):
        """Run PHP with WordPress loaded (as its own CLI would); return what `result` holds."""
        script = self.root / f"run-{secrets.token_hex(4)}.php"
        script.write_text(
            "<?php\n"
            f"$_SERVER['HTTP_HOST'] = '127.0.0.1:{self.port}';\n"
            "$_SERVER['REQUEST_URI'] = '/';\n"
            f"require '{self.tree}/wp-load.php';\n"
            "$result = null;\n"
            f"{code}\n"
            'echo "\\n@@RESULT@@" . json_encode($result);\n'
        )
        done = subprocess.run(
            ["php", str(script)], capture_output=True, text=True, timeout=timeout, check=False
        )
        out, marker, result = done.stdout.rpartition("@@RESULT@@")
        if done.returncode != 0 or not marker:
            raise RuntimeError(
                f"PHP failed ({done.returncode}): {done.stdout[-2000:]} {done.stderr[-2000:]}"
            )
        return json.loads(result)

    def set_option(self, name: str, value) -> None:
        self.php(f"update_option({json.dumps(name)}, {json.dumps(value)}); $result = true;")

    def publish(self, title: str, html: str) -> dict:
        """Publish a post as the admin; return {id, url}."""
        return self.php(
            "wp_set_current_user(1);\n"
            f"$id = wp_insert_post(array('post_title' => {json.dumps(title)}, "
            f"'post_content' => {json.dumps(html)}, 'post_status' => 'publish', "
            "'post_author' => 1), true);\n"
            "if (is_wp_error($id)) { fwrite(STDERR, $id->get_error_message()); exit(1); }\n"
            "$result = array('id' => $id, 'url' => get_permalink($id));"
        )

    def do_all_pings(self) -> None:
        """Send the pings WordPress has queued for its published posts, as its cron would."""
        self.php("do_all_pings(); $result = true;")

    def pinged(self, post_id: int) -> list[str]:
        return self.php(f"$result = get_pung({int(post_id)});")

    def pingbacks(self, post_id: int) -> list[dict]:
        """The pingbacks WordPress stored for a post, from its database."""
        return self.php(
            "global $wpdb;\n"
            "$result = $wpdb->get_results($wpdb->prepare("
            '"SELECT comment_author_url AS url, comment_author AS author, comment_content AS '
            "content, comment_approved AS approved FROM {$wpdb->comments} WHERE comment_post_ID = %d "
            f"AND comment_type = 'pingback'\", {int(post_id)}), ARRAY_A);"
        )

    def ping(self, server: str, source: str, target: str) -> dict:
        """Send a pingback with WordPress's own XML-RPC client; return its answer or fault."""
        return self.php(
            "include_once ABSPATH . WPINC . '/class-IXR.php';\n"
            "include_once ABSPATH . WPINC . '/class-wp-http-ixr-client.php';\n"
            f"$client = new WP_HTTP_IXR_Client({json.dumps(server)});\n"
            "$client->timeout = 10;\n"
            f"$ok = $client->query('pingback.ping', {json.dumps(source)}, {json.dumps(target)});\n"
            "$result = $ok ? array('ok' => true, 'answer' => $client->getResponse())"
            " : array('ok' => false, 'code' => $client->getErrorCode(),"
            " 'message' => $client->getErrorMessage());"
        )
