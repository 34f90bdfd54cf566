/**
 * Real web servers for the tests (issue 11): Debian's php-fpm, apache2 and
 * nginx, on 127.0.0.1 at free ports, every config, log, socket and pid file in
 * the test's temp folder, started as children of the test and stopped by it.
 * As root the workers run as www-data (Apache refuses to serve as root), so
 * the site is given to www-data, as a real Grav site usually is.
 */
import fs from "node:fs";
import fsp from "node:fs/promises";
import net from "node:net";
import path from "node:path";
import { spawn, execFileSync, type ChildProcess } from "node:child_process";
import { REPO } from "./fixtures.js";

export const GUARD = path.join(REPO, "webserver", "gpm-guard.php");
export const NGINX_GPM = path.join(REPO, "webserver", "nginx-gpm.conf");
export const APACHE_GPM = path.join(REPO, "webserver", "apache-gpm.conf");

const isRoot = process.getuid?.() === 0;
export const WEB_USER = "www-data";

/** The first of `candidates` that exists, else a failure saying what CI installs. */
export function requireBinary(what: string, candidates: string[], pkg: string): string {
  for (const c of candidates) {
    if (c.includes("/") ? fs.existsSync(c) : whichSync(c)) return c.includes("/") ? c : whichSync(c)!;
  }
  throw new Error(`${what} is not installed (looked for ${candidates.join(", ")}): install the Debian package ${pkg} (.ci/run does: apt-get install -y ${pkg})`);
}

function whichSync(name: string): string | null {
  for (const d of (process.env.PATH ?? "").split(":").concat(["/usr/sbin", "/sbin"])) {
    const p = path.join(d, name);
    if (d && fs.existsSync(p)) return p;
  }
  return null;
}

export function phpFpmBinary(): string {
  const found = fs.existsSync("/usr/sbin") ? fs.readdirSync("/usr/sbin").filter((n) => /^php-fpm[0-9.]*$/.test(n)).sort().pop() : undefined;
  return requireBinary("php-fpm", found ? [`/usr/sbin/${found}`] : ["php-fpm"], "php-fpm");
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

/** Let the web user read the site and reach it: chown as root, and open the temp folders on the way. */
export async function giveToWebUser(site: string, upTo: string): Promise<void> {
  if (!isRoot) return;
  execFileSync("chown", ["-R", `${WEB_USER}:${WEB_USER}`, site]);
  for (let d = path.dirname(site); d.startsWith(upTo) && d !== path.dirname(upTo); d = path.dirname(d)) await fsp.chmod(d, 0o755);
}

export interface Running {
  name: string;
  port: number;
  url: string;
  stop(): Promise<void>;
  log(): Promise<string>;
}

async function waitFor(check: () => Promise<boolean>, child: ChildProcess, what: string, logFile: string, deadlineMs = 15_000): Promise<void> {
  const until = Date.now() + deadlineMs;
  let exited: string | null = null;
  child.once("exit", (c, s) => (exited = `exited ${c ?? s}`));
  while (Date.now() < until) {
    if (exited) break;
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  const log = await fsp.readFile(logFile, "utf8").catch(() => "");
  child.kill("SIGKILL");
  throw new Error(`${what} ${exited ?? `did not come up within ${deadlineMs / 1000}s`}: ${log.slice(-2000)}`);
}

const connects = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const s = net.connect({ host: "127.0.0.1", port });
    s.once("connect", () => (s.destroy(), resolve(true)));
    s.once("error", () => resolve(false));
  });

function stopper(child: ChildProcess, signal: NodeJS.Signals): () => Promise<void> {
  return () =>
    new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      const t = setTimeout(() => child.kill("SIGKILL"), 10_000);
      child.once("exit", () => (clearTimeout(t), resolve()));
      child.kill(signal);
    });
}

export interface FpmOptions {
  /** PHP's auto_prepend_file for the pool (the guard). */
  prepend?: string | null;
  children?: number;
}

/** php-fpm in the foreground (-F) with a pool on a unix socket in `dir`. */
export async function startPhpFpm(dir: string, o: FpmOptions = {}): Promise<{ socket: string; stop(): Promise<void>; log(): Promise<string> }> {
  const bin = phpFpmBinary();
  await fsp.mkdir(dir, { recursive: true });
  const socket = path.join(dir, "fpm.sock");
  const conf = path.join(dir, "php-fpm.conf");
  const errorLog = path.join(dir, "fpm-error.log");
  // The pool runs as the web user, who may not be able to enter the checkout (a clone in a
  // 0700 mktemp folder): it reads a copy of the prepend file from the test's own folder.
  let prepend = o.prepend ?? null;
  if (prepend) {
    const copy = path.join(dir, path.basename(prepend));
    await fsp.copyFile(prepend, copy);
    await fsp.chmod(copy, 0o644);
    prepend = copy;
  }
  await fsp.writeFile(
    conf,
    [
      "[global]",
      `pid = ${path.join(dir, "fpm.pid")}`,
      `error_log = ${errorLog}`,
      "daemonize = no",
      "[site]",
      ...(isRoot ? [`user = ${WEB_USER}`, `group = ${WEB_USER}`, `listen.owner = ${WEB_USER}`, `listen.group = ${WEB_USER}`] : []),
      `listen = ${socket}`,
      "listen.mode = 0666",
      "pm = static",
      `pm.max_children = ${o.children ?? 6}`,
      "catch_workers_output = yes",
      "clear_env = yes",
      // opcache keys compiled code by path and checks mtimes: the swap test is about the
      // file system, so it runs without it (docs/WEB-SERVER.md says what to do with opcache).
      "php_admin_flag[opcache.enable] = off",
      "php_admin_flag[display_errors] = on",
      "php_admin_value[error_reporting] = E_ALL",
      `php_admin_value[error_log] = ${path.join(dir, "php-error.log")}`,
      ...(prepend ? [`php_admin_value[auto_prepend_file] = ${prepend}`] : []),
      "",
    ].join("\n"),
  );
  const child = spawn(bin, ["-y", conf, "-F", ...(isRoot ? ["-R"] : [])], { stdio: ["ignore", "ignore", "pipe"] });
  let err = "";
  child.stderr!.on("data", (d) => (err = (err + d).slice(-4000)));
  await waitFor(async () => fs.existsSync(socket), child, `php-fpm (${bin} -y ${conf} -F)`, errorLog);
  return { socket, stop: stopper(child, "SIGQUIT"), log: async () => (await fsp.readFile(errorLog, "utf8").catch(() => "")) + err };
}

/** nginx in the foreground (`daemon off`), `-c conf -p prefix`, serving `root` through php-fpm. */
export async function startNginx(dir: string, o: { root: string; fpmSocket: string; serverExtra?: string; gpmRules?: boolean }): Promise<Running> {
  const bin = requireBinary("nginx", ["/usr/sbin/nginx", "nginx"], "nginx");
  await fsp.mkdir(path.join(dir, "logs"), { recursive: true });
  const port = await freePort();
  const conf = path.join(dir, "nginx.conf");
  const errorLog = path.join(dir, "logs", "error.log");
  const tmp = (n: string): string => `${n} ${path.join(dir, n.replace(/_path$/, ""))};`;
  await fsp.writeFile(
    conf,
    `${isRoot ? `user ${WEB_USER};` : ""}
daemon off;
master_process on;
worker_processes 2;
pid ${path.join(dir, "nginx.pid")};
error_log ${errorLog} warn;
events { worker_connections 256; }
http {
  access_log ${path.join(dir, "logs", "access.log")};
  ${tmp("client_body_temp_path")} ${tmp("proxy_temp_path")} ${tmp("fastcgi_temp_path")} ${tmp("uwsgi_temp_path")} ${tmp("scgi_temp_path")}
  include /etc/nginx/mime.types;
  server {
    listen 127.0.0.1:${port};
    server_name localhost;
    root ${o.root};
    index index.php;
    ${o.gpmRules === false ? "" : `include ${NGINX_GPM};`}
    ${o.serverExtra ?? ""}
    location / { try_files $uri $uri/ /index.php?$query_string; }
    location ~* /(\\.git|cache|bin|logs|backup|tests)/.*$ { return 403; }
    location ~* /(system|vendor)/.*\\.(txt|xml|md|html|htm|json|yaml|yml|php|phar|phtml|pl|py|cgi|twig|sh|bat)$ { return 403; }
    location ~* /user/.*\\.(txt|md|json|yaml|yml|php|phar|phtml|pl|py|cgi|twig|sh|bat)$ { return 403; }
    location ~ /(LICENSE\\.txt|composer\\.lock|composer\\.json|nginx\\.conf|web\\.config|htaccess\\.txt|\\.htaccess) { return 403; }
    location ~ \\.php$ {
      fastcgi_pass unix:${o.fpmSocket};
      fastcgi_split_path_info ^(.+\\.php)(/.+)$;
      fastcgi_index index.php;
      include /etc/nginx/fastcgi_params;
      fastcgi_param SCRIPT_FILENAME $document_root$fastcgi_script_name;
      fastcgi_param GPM_ROOT ${o.root};
    }
  }
}
`,
  );
  // The Grav locations above are webserver-configs/nginx.conf of Grav 1.7.48, verbatim in substance.
  const child = spawn(bin, ["-c", conf, "-p", dir], { stdio: ["ignore", "ignore", "pipe"] });
  let err = "";
  child.stderr!.on("data", (d) => (err = (err + d).slice(-4000)));
  await waitFor(() => connects(port), child, `nginx (${bin} -c ${conf} -p ${dir})`, errorLog);
  return { name: "nginx", port, url: `http://127.0.0.1:${port}`, stop: stopper(child, "SIGQUIT"), log: async () => (await fsp.readFile(errorLog, "utf8").catch(() => "")) + err };
}

// Debian's apache2 has core, so, watchdog, http_core, log_config, logio, version and unixd
// compiled in (`apache2 -l`): a LoadModule for one of them is a syntax error (exit 1 at start).
const APACHE_MODULES = ["mpm_event", "authz_core", "authz_host", "authn_core", "access_compat", "dir", "mime", "rewrite", "headers", "env", "setenvif", "alias", "proxy", "proxy_fcgi"];

/** apache2 as a child (`-f conf -DFOREGROUND`), serving `root` with AllowOverride All (the site's .htaccess) and php-fpm. */
export async function startApache(dir: string, o: { root: string; fpmSocket: string; gpmRules?: boolean }): Promise<Running> {
  const bin = requireBinary("apache2", ["/usr/sbin/apache2", "apache2"], "apache2");
  const mods = "/usr/lib/apache2/modules";
  await fsp.mkdir(path.join(dir, "logs"), { recursive: true });
  const port = await freePort();
  const conf = path.join(dir, "apache2.conf");
  const errorLog = path.join(dir, "logs", "error.log");
  await fsp.writeFile(
    conf,
    `ServerRoot ${dir}
ServerName localhost
Listen 127.0.0.1:${port}
PidFile ${path.join(dir, "apache2.pid")}
DefaultRuntimeDir ${dir}
Mutex file:${dir} default
ErrorLog ${errorLog}
LogLevel warn
${APACHE_MODULES.map((m) => `LoadModule ${m}_module ${mods}/mod_${m}.so`).join("\n")}
${isRoot ? `User ${WEB_USER}\nGroup ${WEB_USER}` : ""}
StartServers 2
ServerLimit 4
ThreadsPerChild 16
MaxRequestWorkers 64
TypesConfig /etc/mime.types
LogFormat "%h %t \\"%r\\" %>s %b" common
CustomLog ${path.join(dir, "logs", "access.log")} common
AccessFileName .htaccess
DirectoryIndex index.php index.html
<Directory />
  AllowOverride None
  Require all denied
</Directory>
<VirtualHost 127.0.0.1:${port}>
  DocumentRoot ${o.root}
  Define GPM_ROOT ${o.root}
  ${o.gpmRules === false ? "" : `Include ${APACHE_GPM}`}
  SetEnv GPM_ROOT ${o.root}
  <Directory ${o.root}>
    Options FollowSymLinks
    AllowOverride All
    Require all granted
  </Directory>
  <FilesMatch "\\.php$">
    SetHandler "proxy:unix:${o.fpmSocket}|fcgi://localhost"
  </FilesMatch>
</VirtualHost>
`,
  );
  const child = spawn(bin, ["-f", conf, "-DFOREGROUND"], { stdio: ["ignore", "ignore", "pipe"], env: { ...process.env, APACHE_LOG_DIR: path.join(dir, "logs") } });
  let err = "";
  child.stderr!.on("data", (d) => (err = (err + d).slice(-4000)));
  await waitFor(() => connects(port), child, `apache2 (${bin} -f ${conf} -DFOREGROUND)`, errorLog);
  return { name: "apache", port, url: `http://127.0.0.1:${port}`, stop: stopper(child, "SIGTERM"), log: async () => (await fsp.readFile(errorLog, "utf8").catch(() => "")) + err };
}

/** GET without following redirects; the body as text. Never throws for HTTP statuses. */
export async function get(url: string, timeoutMs = 10_000): Promise<{ status: number; body: string; headers: Headers }> {
  const r = await fetch(url, { redirect: "manual", signal: AbortSignal.timeout(timeoutMs) });
  return { status: r.status, body: await r.text(), headers: r.headers };
}
