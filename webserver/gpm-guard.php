<?php
/**
 * gpm-guard.php — the application's side of gpm (docs/WEB-SERVER.md), loaded
 * before every request with PHP's auto_prepend_file:
 *
 *   php.ini / pool:  auto_prepend_file = /opt/gpm/webserver/gpm-guard.php
 *   .user.ini:       auto_prepend_file = /opt/gpm/webserver/gpm-guard.php
 *   Apache mod_php:  php_value auto_prepend_file /opt/gpm/webserver/gpm-guard.php
 *
 * While the maintenance flag exists: 503 with Retry-After (the swap is under
 * way). While the recovery flag exists: a plain 503 page saying the site is in
 * recovery — the application is never run. For a window after each upgrade
 * (`.gpm/guard.json` `fatalWindowUntil`, written by gpm), a fatal error during
 * a request writes the recovery flag (reason, createdAt, manifest, quarantined,
 * file), so `gpm recovery` takes over instead of every visitor seeing the error.
 *
 * While a request runs it holds a shared lock on `.gpm/inflight.lock`; gpm
 * takes it exclusively after raising the maintenance flag, so no request that
 * began before the swap is still running during it (zero torn responses).
 *
 * The root is $_SERVER['GPM_ROOT'] (fastcgi_param / SetEnv) or the GPM_ROOT
 * environment variable, else the document root. Self-contained: no Composer,
 * no application code, PHP 7.1+.
 */
(static function (): void {
    // The smoke check's own `php -S` (started by gpm with GPM_SMOKE_CHECK=1 in its
    // process environment, which no request can set) must reach the new release.
    if (getenv('GPM_SMOKE_CHECK', true) === '1') {
        return;
    }
    $root = $_SERVER['GPM_ROOT'] ?? (getenv('GPM_ROOT', true) ?: ($_SERVER['DOCUMENT_ROOT'] ?? ''));
    $root = rtrim((string) $root, '/');
    if ($root === '') {
        return;
    }
    $cfg = ['maintenanceFlag' => '.upgrading', 'recoveryFlag' => 'system/recovery.flag', 'retryAfterSec' => 30, 'fatalWindowUntil' => null, 'manifest' => null, 'version' => null];
    $guardFile = $root . '/.gpm/guard.json';
    if (is_file($guardFile)) {
        $j = json_decode((string) @file_get_contents($guardFile, false, null, 0, 65536), true);
        if (is_array($j)) {
            $cfg = array_merge($cfg, $j);
        }
    }
    $unavailable = static function (int $retry, string $title, string $text): void {
        if (!headers_sent()) {
            http_response_code(503);
            header('Content-Type: text/html; charset=utf-8');
            header('Cache-Control: no-store');
            if ($retry > 0) {
                header('Retry-After: ' . $retry);
            }
        }
        echo "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>{$title}</title></head>"
            . "<body><h1>{$title}</h1><p>{$text}</p></body></html>\n";
        exit;
    };
    $retry = max(1, (int) $cfg['retryAfterSec']);
    $maintenance = static function () use ($unavailable, $retry): void {
        $unavailable($retry, 'Back in a moment', 'This site is being updated. Please try again in a few seconds.');
    };

    $lockFile = $root . '/.gpm/inflight.lock';
    if (is_file($lockFile)) {
        $lock = @fopen($lockFile, 'r');
        if ($lock === false) {
            // A request that cannot hold the lock is one gpm's drain cannot wait for: the swap may
            // rename the release under it (a torn response). Say so; gpm repairs the lock's owner
            // and mode at its next swap, but PHP's user must be able to reach .gpm/ at all.
            error_log("gpm-guard: cannot open {$lockFile} for reading: this request is not drained before a swap; give it to the site's owner (docs/WEB-SERVER.md)");
        } else {
            if (!flock($lock, LOCK_SH | LOCK_NB)) {
                $maintenance(); // gpm holds it: a swap is under way
            }
            // Held until the request ends (PHP closes the handle at shutdown).
            $GLOBALS['__gpm_guard_inflight'] = $lock;
        }
    }
    if (file_exists($root . '/' . $cfg['maintenanceFlag'])) {
        $maintenance();
    }
    $recoveryFlag = $root . '/' . $cfg['recoveryFlag'];
    if (file_exists($recoveryFlag)) {
        $unavailable(0, 'Site in recovery', 'This site is in recovery mode after a failed update. The administrator has been told; please come back later.');
    }

    $until = is_string($cfg['fatalWindowUntil']) ? strtotime($cfg['fatalWindowUntil']) : false;
    if ($until === false || time() >= $until) {
        return;
    }
    register_shutdown_function(static function () use ($recoveryFlag, $cfg): void {
        $e = error_get_last();
        if ($e === null || !($e['type'] & (E_ERROR | E_PARSE | E_CORE_ERROR | E_COMPILE_ERROR | E_USER_ERROR | E_RECOVERABLE_ERROR))) {
            return;
        }
        $version = is_string($cfg['version']) ? $cfg['version'] : 'the new release';
        $flag = [
            'reason' => sprintf('fatal error in a request after the upgrade to %s: %s in %s:%d', $version, strtok((string) $e['message'], "\n"), $e['file'], $e['line']),
            'createdAt' => gmdate('Y-m-d\TH:i:s\Z'),
            'manifest' => is_string($cfg['manifest']) ? $cfg['manifest'] : null,
            'quarantined' => [],
            'file' => $e['file'],
            'line' => $e['line'],
            'writtenBy' => 'gpm-guard.php',
        ];
        // 'x': the first fatal error wins; a flag already there (gpm's own) is never overwritten.
        $h = @fopen($recoveryFlag, 'x');
        if ($h !== false) {
            fwrite($h, json_encode($flag, JSON_PRETTY_PRINT | JSON_UNESCAPED_SLASHES) . "\n");
            fflush($h);
            fclose($h);
        }
    });
})();
