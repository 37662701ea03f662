complete -c httpok -s p -l program -d 'Restart this program when a URL fails: name, group:name or group:* (the whole group). Repeatable' -r
complete -c httpok -s t -l timeout -d 'Seconds to wait for the whole answer (connect, headers and body; an exec check\'s exit); fractions such as 2.5 are allowed. Default 10' -r
complete -c httpok -s c -l code -d 'Expected HTTP status: 200, a class such as 2xx, or a range such as 200-399. Repeatable; default 200' -r
complete -c httpok -s b -l body -d 'Text that must appear in the response body (searched in its first 16 MiB)' -r
complete -c httpok -s m -l email -d 'Mail this address on every restart (through the -s command)' -r
complete -c httpok -s s -l sendmail_program -d 'Command that reads a mail (headers and body) on stdin. Split on spaces, never run through a shell' -r
complete -c httpok -s g -l gcore -d 'Core-dump command, called with a file name (DIR/NAMESPEC) and a pid (used with -d). Split on spaces, never run through a shell' -r
complete -c httpok -s d -l coredir -d 'Dump a core of each hung process into this directory before restarting it' -r -F
complete -c httpok -s n -l name -d 'Name of this checker, shown in the mail subject as "httpok [NAME]: ..."' -r
complete -c httpok -l check -d 'Bind a URL to its own program(s): NAMESPEC=URL, e.g. web=http://127.0.0.1:8080/ or api:*=tcp://127.0.0.1:9000. Repeatable; independent of -p' -r
complete -c httpok -s H -l header -d 'Extra request header \'Name: value\'. Repeatable; a Host header overrides the host' -r
complete -c httpok -l method -d 'HTTP method of the probe. Default GET' -r -f -a "GET\t''
HEAD\t''"
complete -c httpok -l body-regex -d 'The response body must match this regular expression (searched in its first 16 MiB, as -b)' -r
complete -c httpok -l body-not-regex -d 'A response body matching this regular expression fails the check, e.g. \'maintenance mode|Traceback\'' -r
complete -c httpok -l send -d 'For tcp:// checks: write TEXT once connected (escapes \\r, \\n, \\t, \\\\), e.g. \'PING\\r\\n\'' -r
complete -c httpok -l expect -d 'For tcp:// checks: what the peer answers must match this regular expression within the timeout, e.g. \'^\\+PONG\'' -r
complete -c httpok -l config -d 'Read checks from this TOML file: top-level keys are defaults for every check (flags given here override them), each [[check]] has its own. Mixes with --check and URLs. See man httpok, CONFIG FILE' -r -F
complete -c httpok -l cert-expiry-warn -d 'Warn (one WARN a day, one mail) when an https check\'s certificate expires within DAYS; never a restart. 0 turns it off' -r
complete -c httpok -l cacert -d 'Trust the CA certificates in this PEM file for https:// checks (as well as the built-in roots)' -r -F
complete -c httpok -s f -l failures -d 'Restart only after N failed rounds in a row; --successes healthy rounds reset the count. Default 1' -r
complete -c httpok -l successes -d 'A failing check is healthy again, and a restarted program recovered, after N healthy rounds in a row. Default 1' -r
complete -c httpok -l interval -d 'Probe every SECS (default: every TICK): above the tick period for an expensive check; below it (down to 1) httpok probes between TICKs on its own clock' -r
complete -c httpok -l stop-grace -d 'When a restart\'s stop has not ended after SECS (the program is frozen or its workers hang), SIGKILL it as supervisord would at stopwaitsecs: its process group with killasgroup=true, else its pid. httpok must run as root or as the program\'s user. Default: supervisord\'s stopwaitsecs' -r
complete -c httpok -s w -l grace -l delay -d 'Neither judge nor restart a program that has been up less than SECS (by supervisord\'s start time, so also after each restart). Default 0' -r
complete -c httpok -l max-restarts -d 'Give up on a program after K restarts within --restart-window (one ERROR line, one mail); restarts resume once the window has room again' -r
complete -c httpok -l restart-window -d 'The window of --max-restarts, in seconds' -r
complete -c httpok -l parallel-restarts -d 'Within one check\'s selection (group:*, -a, several -p), restart at most N processes at a time: the next starts when the previous is RUNNING again or has failed to start (superlance restarted them one by one)' -r
complete -c httpok -l on-restart -d 'Command run after each restart attempt (no shell), with HTTPOK_PROGRAM, HTTPOK_CHECK, HTTPOK_URL, HTTPOK_REASON and HTTPOK_OUTCOME in its environment' -r
complete -c httpok -l on-change -d 'Command run when a check or program changes state (failing, recovered, restarted, start-failed, gave-up), no shell, with HTTPOK_CHECK, HTTPOK_URL, HTTPOK_PROGRAM, HTTPOK_STATE, HTTPOK_PREVIOUS and HTTPOK_REASON in its environment: a chat webhook gets the recovery too' -r
complete -c httpok -l state-file -d 'Keep failure counts, restart history, give-ups and any restart in flight in this file (written atomically when they change, read at start), so a restart of httpok continues where it was, and a program it had stopped for a restart is started if nobody ran it since. Put it in a directory only httpok\'s user can write (e.g. /var/lib/httpok): a file others could have written is not read' -r -F
complete -c httpok -l exclude -d 'Never restart this process (namespec); repeatable. This listener is always excluded' -r
complete -c httpok -l metrics-listen -d 'Serve what httpok sees on ADDR: GET /metrics for Prometheus and GET /status as JSON. ADDR is 127.0.0.1:9117, [::1]:9117 or unix:/run/httpok.sock. Off by default. The metrics: per target, blackbox_exporter\'s probe_success, probe_duration_seconds, probe_http_status_code, probe_http_content_length, probe_http_version, probe_http_ssl, probe_failed_due_to_regex, probe_ssl_earliest_cert_expiry, probe_tls_version_info and probe_dns_lookup_time_seconds, meaning what they mean there; and httpok\'s own httpok_check_consecutive_failures, httpok_restarts_total, httpok_given_up, httpok_program_state, httpok_rounds_total, httpok_round_duration_seconds, httpok_last_round_timestamp_seconds, httpok_supervisord_up and httpok_build_info. No other' -r
complete -c httpok -l status -d 'Print the checks of the httpok serving --metrics-listen at URL as a table, e.g. httpok --status http://127.0.0.1:9117 (or unix:/run/httpok.sock), and exit 0 when every check is healthy, 1 otherwise, 2 when it cannot be reached. Needs no supervisord and no URL to probe' -r
complete -c httpok -l server-url -d 'supervisord\'s XML-RPC URL: unix:///path.sock or http://host:port. supervisord sets it for its listeners; give it only to talk to another supervisord' -r
complete -c httpok -l username -d 'User name for supervisord\'s server. supervisord does not pass it on: set SUPERVISOR_USERNAME in the listener\'s environment= line' -r
complete -c httpok -l password -d 'Password for supervisord\'s server. Prefer SUPERVISOR_PASSWORD in environment=: command lines are visible to every user in ps' -r
complete -c httpok -s a -l any -d 'Restart every RUNNING process (except this listener and --exclude) when a URL fails'
complete -c httpok -s e -l eager -d 'Probe (and mail) even when no watched program is RUNNING. The default'
complete -c httpok -s E -l not-eager -d 'Probe only when a watched program is RUNNING'
complete -c httpok -l check-config -d 'Read and check the whole command line and --config file, print the effective checks one per line and exit 0 (2 with the error). Needs no supervisord'
complete -c httpok -l insecure -d 'Do not verify certificates of https:// checks'
complete -c httpok -l once -d 'Probe every check once, print one line per URL and exit 0 if all are healthy, 1 otherwise. Needs no supervisord: try a command line from a shell'
complete -c httpok -l dry-run -d 'Judge and log "would restart NAME (reason)" without touching supervisord'
complete -c httpok -s h -l help -d 'Print help'
complete -c httpok -s V -l version -d 'Print version'
