//! The man page (doc/httpok.1) and the shell completions (doc/completions/) are generated
//! from the clap definition in src/cli/mod.rs, plus the hand-written man sections below.
//! These tests render them in memory and fail when a checked-in file differs, so the
//! docs cannot drift from the CLI. After changing a flag or its help, run
//!
//!     UPDATE_GENERATED=1 cargo test --test generated_docs
//!
//! and commit the rewritten files.

use std::fs;
use std::path::PathBuf;

use clap::CommandFactory;
use clap_complete::Shell;
use clap_mangen::Man;
use clap_mangen::roff::{Inline, Roff, bold, italic, roman};

use httpok::cli::Args;
use httpok::config::{Applies, KEYS, Kind};

const UPDATE_HINT: &str = "UPDATE_GENERATED=1 cargo test --test generated_docs";

/// Compares `content` with the checked-in file, or rewrites it under UPDATE_GENERATED=1.
fn check(relative: &str, content: &[u8]) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(relative);
    if std::env::var_os("UPDATE_GENERATED").is_some_and(|v| !v.is_empty() && v != "0") {
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir).expect("create doc dir");
        }
        if fs::read(&path).ok().as_deref() != Some(content) {
            fs::write(&path, content).expect("write generated file");
            eprintln!("rewrote {relative}");
        }
        return;
    }
    let on_disk = fs::read(&path).unwrap_or_default();
    assert!(
        on_disk == content,
        "{relative} does not match the command line defined in src/cli/mod.rs (or the man \
         sections in tests/generated_docs.rs).\nRegenerate it with:\n\n    {UPDATE_HINT}\n\n\
         and commit the result."
    );
}

fn completion(shell: Shell) -> Vec<u8> {
    let mut cmd = Args::command();
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut cmd, "httpok", &mut out);
    out
}

#[test]
fn bash_completion_matches_the_cli() {
    check("doc/completions/httpok.bash", &completion(Shell::Bash));
}

#[test]
fn zsh_completion_matches_the_cli() {
    check("doc/completions/_httpok", &completion(Shell::Zsh));
}

#[test]
fn fish_completion_matches_the_cli() {
    check("doc/completions/httpok.fish", &completion(Shell::Fish));
}

#[test]
fn man_page_matches_the_cli() {
    check("doc/httpok.1", &man_page());
}

#[test]
fn man_page_has_the_sections_readers_look_for() {
    let page = String::from_utf8(man_page()).expect("utf-8");
    for section in [
        "NAME",
        "SYNOPSIS",
        "DESCRIPTION",
        "COMMAND LINE",
        "URLS",
        "OPTIONS",
        "SUPERLANCE-COMPATIBLE",
        "CHECKS",
        "RESTART POLICY",
        "CONNECTION TO SUPERVISORD",
        "EXAMPLES",
        "ENVIRONMENT",
        "EXIT STATUS",
        "FILES",
        "SEE ALSO",
    ] {
        let heading = format!(".SH {section}\n");
        let quoted = format!(".SH \"{section}\"\n");
        assert!(
            page.contains(&heading) || page.contains(&quoted),
            "no {section} section"
        );
    }
    for flag in [
        "\\-\\-program",
        "\\-\\-check",
        "\\-\\-grace",
        "\\-\\-server\\-url",
    ] {
        assert!(page.contains(flag), "{flag} is not documented");
    }
}

// ---------------------------------------------------------------- the man page

/// clap_mangen's sections (title, name, synopsis, options by help heading, version)
/// around hand-written ones; clap's after_help examples are replaced by EXAMPLES.
fn man_page() -> Vec<u8> {
    // No date (it would change on every build); written as "" because an empty .TH
    // argument would shift the source and manual into its place.
    let man = Man::new(Args::command())
        .title("HTTPOK")
        .date("\"\"")
        .manual("User Commands");
    type Render = fn(&Man, &mut dyn std::io::Write) -> std::io::Result<()>;
    let generated = |render: Render| {
        let mut out = Vec::new();
        render(&man, &mut out).expect("render to memory");
        out
    };
    let written = |roff: Roff| {
        let mut out = Vec::new();
        roff.to_writer(&mut out).expect("render to memory");
        out
    };
    let pieces = [
        generated(Man::render_title),
        generated(Man::render_name_section),
        written(synopsis()),
        written(description()),
        written(command_line()),
        written(urls()),
        generated(Man::render_options_section),
        written(config_file()),
        written(examples()),
        written(environment()),
        written(exit_status()),
        written(files()),
        written(see_also()),
        generated(Man::render_version_section),
    ];
    // Every piece starts with roff's two-line apostrophe preamble: keep the first only.
    let mut page = Vec::new();
    for (i, piece) in pieces.iter().enumerate() {
        let text = String::from_utf8_lossy(piece);
        let body = match text.strip_prefix(PREAMBLE) {
            Some(body) if i > 0 => body,
            _ => &text,
        };
        page.extend_from_slice(body.as_bytes());
    }
    page
}

/// What roff writes before every rendered piece.
const PREAMBLE: &str = ".ie \\n(.g .ds Aq \\(aq\n.el .ds Aq '\n";

fn section(title: &str) -> Roff {
    let mut roff = Roff::new();
    roff.control("SH", [title]);
    roff
}

fn paragraph(roff: &mut Roff, text: impl Into<Vec<Inline>>) {
    roff.control("PP", []);
    roff.text(text);
}

/// A tagged paragraph: `tag` in bold, then its text.
fn item(roff: &mut Roff, tag: &str, text: &str) {
    roff.control("TP", []);
    roff.text([bold(tag)]);
    roff.text([roman(text)]);
}

/// Lines shown as typed (no filling), indented.
fn literal(roff: &mut Roff, lines: &[&str]) {
    roff.control("PP", []);
    roff.control("RS", ["4"]);
    roff.control("nf", []);
    for line in lines {
        roff.text([roman(*line)]);
    }
    roff.control("fi", []);
    roff.control("RE", []);
}

/// The usual ways to call httpok, rather than clap's list of every flag.
fn synopsis() -> Roff {
    let mut r = section("SYNOPSIS");
    let lines = [
        "httpok [-p NAME]... [-a] [-t SECS] [-c CODE]... [-b TEXT] [-m EMAIL] [-s CMD] \
         [-g CMD] [-d DIR] [-e | -E] [-n NAME] [OPTIONS] URL...",
        "httpok [OPTIONS] --check NAMESPEC=URL... [URL...]",
        "httpok --once [OPTIONS] URL...",
    ];
    for (i, line) in lines.iter().enumerate() {
        if i > 0 {
            r.control("br", []);
        }
        r.text(synopsis_line(line));
    }
    r
}

/// Flags in bold, placeholders in italics, brackets and dots plain.
fn synopsis_line(line: &str) -> Vec<Inline> {
    let mut inlines = Vec::new();
    for (i, word) in line.split(' ').enumerate() {
        if i > 0 {
            inlines.push(roman(" "));
        }
        let core = word.trim_start_matches('[');
        inlines.push(roman(&word[..word.len() - core.len()]));
        let tail_at = core.find([']', '.']).unwrap_or(core.len());
        let (core, tail) = core.split_at(tail_at);
        if core.starts_with('-') || core == "httpok" {
            inlines.push(bold(core));
        } else if core == "|" {
            inlines.push(roman(core));
        } else {
            inlines.push(italic(core));
        }
        inlines.push(roman(tail));
    }
    inlines.retain(|i| !matches!(i, Inline::Roman(s) if s.is_empty()));
    inlines
}

fn description() -> Roff {
    let mut r = section("DESCRIPTION");
    r.text([
        bold("httpok"),
        roman(
            " is a supervisord event listener. supervisord starts it and sends it TICK \
             events; on each one httpok probes its URLs (all at the same time) and restarts, \
             through supervisord's XML-RPC interface, the programs behind the ones that \
             fail: a status not in the ",
        ),
        bold("-c"),
        roman(" list, a body without the "),
        bold("-b"),
        roman(" text, no whole answer within "),
        bold("-t"),
        roman(" seconds, a refused connection, a TLS or DNS failure."),
    ]);
    paragraph(
        &mut r,
        [
            roman(
                "It is a drop-in replacement for superlance's httpok: the same flags, defaults \
             and restart notices, so only the path in command= changes. Beyond those, one \
             httpok watches many services (",
            ),
            bold("--check"),
            roman("), waits for several failed rounds in a row ("),
            bold("-f"),
            roman("), spares programs that just started ("),
            bold("--grace"),
            roman(") and stops restarting a program that never recovers ("),
            bold("--max-restarts"),
            roman(")."),
        ],
    );
    paragraph(
        &mut r,
        [roman(
            "A restart re-reads the process and goes ahead only if it is still RUNNING with \
             the pid that failed; it stops it, waits until it has stopped, then starts it. \
             Restarts run in the background, so the listener answers supervisord at once. \
             Only RUNNING processes are restarted, never httpok itself. Events other than \
             TICK are acknowledged and ignored.",
        )],
    );
    paragraph(
        &mut r,
        [roman(
            "stdout carries the event-listener protocol and nothing else. Every log line \
             goes to stderr, so into the listener's stderr_logfile, as TIME LEVEL message; \
             restart notices use superlance's wording. httpok logs one line per change of a \
             check (failing, restarting, recovered, given up) and nothing for healthy rounds.",
        )],
    );
    paragraph(
        &mut r,
        [
            roman("Started by hand, httpok refuses to run, except with "),
            bold("--once"),
            roman(
                ", which probes every check once and prints the result: the way to try a \
                 command line before putting it in supervisord.conf.",
            ),
        ],
    );
    r
}

/// How superlance's getopt forms are read, and how errors are reported.
fn command_line() -> Roff {
    let mut r = section("COMMAND LINE");
    r.text([roman(
        "superlance's flags (-h -p -a -t -c -b -s -m -g -d -e -E -n and their long \
         names) are read exactly as superlance's getopt read them, so a command line \
         written for superlance means the same here:",
    )]);
    item(
        &mut r,
        "--prog=web --time 5",
        "A long flag may be shortened to any prefix that is unique among superlance's \
         thirteen long flags, with its value after = or as the next argument. An \
         ambiguous prefix (--co: --code or --coredir) is refused, naming the candidates.",
    );
    item(
        &mut r,
        "-t5 -pweb -aE -at5",
        "A short flag's value may be attached; short flags may be bundled, and the first \
         that takes a value takes the rest of the bundle.",
    );
    item(
        &mut r,
        "-b -x-",
        "A value is taken from the next argument whatever it looks like. So a -s or -g \
         command with flags of its own must be quoted: -s '/usr/sbin/sendmail -t -i'.",
    );
    item(
        &mut r,
        "-t 5 -t 3",
        "The last value wins (here 3), also for -e and -E. -p and -c add up.",
    );
    item(
        &mut r,
        "--",
        "Ends the flags: every argument after it is a URL.",
    );
    paragraph(
        &mut r,
        [roman(
            "httpok's own flags (--check, -f, --grace, --max-restarts, ...) are written in \
             full and given once; unlike superlance, flags may also follow the URLs. A \
             command line httpok refuses gets one line on stderr, TIME ERROR message \
             (see httpok --help), naming the flag and what to write instead, and exit \
             status 2; nothing is started.",
        )],
    );
    r
}

fn urls() -> Roff {
    let mut r = section("URLS");
    item(
        &mut r,
        "http://HOST[:PORT]/PATH, https://HOST[:PORT]/PATH",
        "An HTTP request (GET, or HEAD with --method). Redirects are not followed: a 302 \
         is a status like any other. https certificates are verified (see --cacert and \
         --insecure). A user and password in the URL (http://user:pass@host/) are sent as \
         Basic auth and never logged. Proxy variables are ignored.",
    );
    item(
        &mut r,
        "tcp://HOST:PORT",
        "Healthy when a TCP connection opens within the timeout (databases, caches, \
         anything that is not HTTP).",
    );
    item(
        &mut r,
        "http+unix://SOCKET/PATH",
        "HTTP over a unix-domain socket (gunicorn, uwsgi), with the socket path \
         percent-encoded: /run/app.sock is %2Frun%2Fapp.sock.",
    );
    item(
        &mut r,
        "exec:COMMAND ARGS",
        "A command, split on spaces and run without a shell, in its own process group, \
         with httpok's environment less supervisord's credentials: healthy when it exits \
         0 within the timeout (-t). At the timeout its whole process group is killed. The \
         failure reason gives its exit status and the last line it wrote, e.g. \
         --check 'db=exec:/usr/bin/pg_isready -q'. A process it starts in a session of \
         its own (setsid) leaves the group and is not killed. A command that cannot run \
         at all is a WARN at start and never counts against the program.",
    );
    paragraph(
        &mut r,
        [roman(
            "In supervisord.conf, write every % as %%: supervisord expands %(name)s in \
             command=. So a socket URL there reads http+unix://%%2Frun%%2Fapp.sock/health.",
        )],
    );
    r
}

/// --config: the TOML file, its layers and its keys.
fn config_file() -> Roff {
    let mut r = section("CONFIG FILE");
    r.text([
        bold("--config"),
        roman(
            " FILE reads checks from a TOML file. Its top-level keys are defaults for \
             every check; a flag given on the command line overrides a top-level key; a \
             check's own key overrides both. It mixes with --check and URLs. ",
        ),
        bold("--check-config"),
        roman(
            " reads and checks everything, prints the effective checks one per line and \
             exits 0, or exits 2 with the error (FILE:LINE: key ...). For example:",
        ),
    ]);
    literal(
        &mut r,
        &[
            "timeout = 5",
            "failures = 3",
            "[[check]]",
            "program = \"web\"            # a namespec, or a list: [\"web\", \"api:*\"]",
            "url = \"http://127.0.0.1:8080/health\"",
            "codes = [\"2xx\"]",
            "body = \"OK\"",
            "headers = { Host = \"app.example\" }",
            "[[check]]",
            "program = \"redis\"",
            "url = \"tcp://127.0.0.1:6379\"",
            "send = \"PING\\r\\n\"",
            "expect = '^\\+PONG'",
            "[[check]]",
            "program = \"db\"",
            "exec = [\"/usr/bin/pg_isready\", \"-q\"]",
            "env = { PGPASSWORD = \"...\" }   # for this command only, never shown",
            "interval = 30",
        ],
    );
    let keys = format!(
        "A check's keys: name (its label in metrics, /status and --on-change; default its \
         URL), program, one of url and exec, and the settings. The settings, also allowed \
         at the top level: {}. A setting for one kind of check is an error in a check of \
         another kind, and a warning as a default (a top-level key or a flag) when no \
         check is of its kind. Unknown keys, wrong types and bad values are errors naming \
         the file, line and key. A program named by several checks is judged by the most \
         careful of them: the longest grace, the most successes, the strictest restart \
         limit.",
        settings_by_kind()
    );
    paragraph(&mut r, [roman(keys)]);
    r
}

/// The settings keys grouped by the checks they apply to, from the table the config
/// file and the flags are read by: `for every check timeout, ...; for http(s) checks
/// codes (...), ...`.
fn settings_by_kind() -> String {
    let note = |key: &str| match key {
        "codes" => " (200, \"2xx\", \"200-399\")",
        "env" => {
            " (variables the command gets on top of httpok's environment, whose values no \
             log, metric, --check-config or state file shows)"
        }
        _ => "",
    };
    let groups = [
        ("every check", Applies::Every),
        ("http(s) checks", Applies::Only(Kind::Http)),
        ("tcp:// checks", Applies::Only(Kind::Tcp)),
        ("exec checks", Applies::Only(Kind::Exec)),
    ];
    let described: Vec<String> = groups
        .iter()
        .map(|(checks, applies)| {
            let names: Vec<String> = KEYS
                .iter()
                .filter(|key| key.applies == *applies)
                .map(|key| format!("{}{}", key.name, note(key.name)))
                .collect();
            let listed = match names.split_last() {
                Some((last, [])) => last.clone(),
                Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
                None => panic!("no setting for {checks}"),
            };
            format!("for {checks} {listed}")
        })
        .collect();
    described.join("; ")
}

fn examples() -> Roff {
    let mut r = section("EXAMPLES");
    r.text([roman(
        "Restart program web when /health does not answer 200 with OK in its body \
         within 5 seconds. In supervisord.conf, or a file in /etc/supervisor/conf.d/:",
    )]);
    literal(
        &mut r,
        &[
            "[eventlistener:httpok]",
            "command=/usr/bin/httpok -p web -t 5 -b OK http://127.0.0.1:8080/health",
            "events=TICK_5",
            "stopwaitsecs=20",
            "stderr_logfile=/var/log/supervisor/httpok.log",
        ],
    );
    paragraph(
        &mut r,
        [roman(
            "then supervisorctl reread and supervisorctl update. The restart notices \
             appear in /var/log/supervisor/httpok.log. httpok's stopwaitsecs must be above \
             that of every program it restarts (10 unless set), or stopping httpok during \
             a restart can leave the program STOPPED; httpok logs a WARN at start when it \
             is not.",
        )],
    );
    paragraph(
        &mut r,
        [roman(
            "Try checks from a shell first; no supervisord needed, exit status 0 when all \
             are healthy:",
        )],
    );
    literal(
        &mut r,
        &["httpok --once -b OK http://127.0.0.1:8080/health"],
    );
    paragraph(
        &mut r,
        [roman(
            "One listener for a whole host: each URL restarts its own program(s), after 3 \
             failed rounds in a row, never a program up less than 60 seconds, and at most 3 \
             times in 15 minutes. A command= may go on over indented lines:",
        )],
    );
    literal(
        &mut r,
        &[
            "[eventlistener:httpok]",
            "command=/usr/bin/httpok -f 3 --grace 60 --max-restarts 3 --restart-window 900",
            "    --check web=http://127.0.0.1:8000/health",
            "    --check api:*=http://127.0.0.1:8001/ping",
            "    --check search=tcp://127.0.0.1:9200",
            "    --check shop=http+unix://%%2Frun%%2Fshop%%2Fgunicorn.sock/healthz",
            "events=TICK_5",
            "stopwaitsecs=20",
        ],
    );
    paragraph(
        &mut r,
        [roman(
            "An authenticated [inet_http_server]: supervisord does not pass the credentials \
             on, so give them to the listener:",
        )],
    );
    literal(
        &mut r,
        &["environment=SUPERVISOR_USERNAME=\"ops\",SUPERVISOR_PASSWORD=\"change-me\""],
    );
    paragraph(
        &mut r,
        [roman(
            "More, with comments, in /usr/share/doc/httpok/examples/ (examples/ in the \
             source).",
        )],
    );
    r
}

fn environment() -> Roff {
    let mut r = section("ENVIRONMENT");
    item(
        &mut r,
        "SUPERVISOR_SERVER_URL",
        "Where supervisord's XML-RPC server is (unix:///path.sock or http://host:port); \
         supervisord sets it. --server-url overrides it.",
    );
    item(
        &mut r,
        "SUPERVISOR_USERNAME, SUPERVISOR_PASSWORD",
        "Credentials for an authenticated server. supervisord never sets them: put them \
         in the listener's environment= line. --username and --password override them.",
    );
    item(
        &mut r,
        "SUPERVISOR_PROCESS_NAME, SUPERVISOR_GROUP_NAME",
        "This listener's name, set by supervisord, so that -a never restarts httpok itself.",
    );
    item(
        &mut r,
        "RUST_LOG",
        "Log level on stderr: error, warn, info (the default), debug or trace. \
         httpok=debug shows httpok's own debug lines without the HTTP client's.",
    );
    item(
        &mut r,
        "HTTPOK_PROGRAM, HTTPOK_CHECK, HTTPOK_URL, HTTPOK_REASON, HTTPOK_OUTCOME",
        "Set for the --on-restart command: the namespec, the failing check's name (its \
         URL when it has none), the failing URL (without credentials), why it failed \
         (e.g. status 500, timeout after 5.0s) and how the restart went: restarted, \
         failed (the stop or the start failed) or skipped (not restarted: the process \
         had changed, or httpok was stopping).",
    );
    item(
        &mut r,
        "HTTPOK_CHECK, HTTPOK_URL, HTTPOK_PROGRAM, HTTPOK_STATE, HTTPOK_PREVIOUS, HTTPOK_REASON",
        "Set for the --on-change command. HTTPOK_STATE is the new state: failing or \
         recovered for a check; restarted, start-failed, gave-up or recovered for a \
         program. HTTPOK_PREVIOUS is the state before: healthy, failing, restarting or \
         restarted. HTTPOK_CHECK is the check's name, or its URLs when it has none; for a \
         program, the check whose failure led to the change. HTTPOK_URL is the failing \
         URL without credentials (a check's URLs when it recovers). HTTPOK_PROGRAM is the program, or for a check the \
         names it restarts. HTTPOK_REASON is why it failed, empty for recovered.",
    );
    r
}

fn exit_status() -> Roff {
    let mut r = section("EXIT STATUS");
    item(
        &mut r,
        "0",
        "supervisord closed stdin (it stops the listener); with --once, every check is \
         healthy; --help and --version.",
    );
    item(
        &mut r,
        "1",
        "With --once, a check is failing. As a listener, an error it cannot carry on \
         from; the message is on stderr.",
    );
    item(
        &mut r,
        "2",
        "A bad command line, including a bad SUPERVISOR_SERVER_URL or --server-url and an \
         unreadable --cacert file, or started outside supervisord without --server-url. \
         One ERROR line on stderr names the flag and what to write instead; nothing is \
         started.",
    );
    r
}

fn files() -> Roff {
    let mut r = section("FILES");
    item(
        &mut r,
        "/etc/supervisor/conf.d/*.conf",
        "Where Debian's supervisord reads program and listener sections from.",
    );
    item(
        &mut r,
        "/usr/share/doc/httpok/examples/httpok.conf",
        "An example listener for Debian's supervisord, installed but not enabled: copy it \
         into /etc/supervisor/conf.d/ and edit it.",
    );
    item(
        &mut r,
        "/usr/share/doc/httpok/migrating-from-superlance.md",
        "Every superlance flag, what httpok does with it, and what changed.",
    );
    r
}

fn see_also() -> Roff {
    let mut r = section("SEE ALSO");
    r.text([
        bold("supervisord"),
        roman("(1), "),
        bold("supervisorctl"),
        roman("(1), "),
        italic("http://supervisord.org/events.html"),
    ]);
    paragraph(
        &mut r,
        [
            roman("The operator's guide, "),
            italic("docs/operating.md"),
            roman(
                " in httpok's source: what makes restarts work (stopasgroup, killasgroup, \
                 exec in wrappers), how stopwaitsecs and startsecs set the recovery time, \
                 httpok's own stopwaitsecs, what httpok logs during supervisorctl update \
                 and reload, every log line and what to do about it, and apache2 behind \
                 nginx as a worked example.",
            ),
        ],
    );
    r
}
