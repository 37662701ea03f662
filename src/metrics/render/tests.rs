use super::*;
use crate::planner::status::{HttpAnswer, TargetStatus};

fn snapshot() -> Snapshot {
    Snapshot {
        format: 1,
        version: "9.8.7".into(),
        rounds_total: 42,
        last_round_seconds: 0.25,
        last_round_timestamp_seconds: 1_900_000_000.5,
        supervisord_up: None,
        checks: vec![
            CheckStatus {
                check: "http://127.0.0.1:8080/".into(),
                program: "web".into(),
                healthy: Some(false),
                reason: Some("status 500".into()),
                consecutive_failures: 2,
                targets: vec![TargetStatus {
                    target: "http://127.0.0.1:8080/".into(),
                    success: Some(false),
                    duration_seconds: 0.5,
                    http_status: 500,
                    failed_due_to_regex: true,
                    cert_expiry: None,
                    ..TargetStatus::default()
                }],
            },
            CheckStatus {
                check: "https://example.test/".into(),
                program: "api:*".into(),
                healthy: None,
                targets: vec![
                    TargetStatus {
                        target: "https://example.test/".into(),
                        success: Some(true),
                        duration_seconds: 0.125,
                        http_status: 200,
                        cert_expiry: Some(1_900_000_000),
                        tls_version: Some("TLS 1.2".into()),
                        http: Some(HttpAnswer {
                            content_length: -1,
                            version: 1.1,
                            ssl: true,
                        }),
                        dns_lookup_seconds: Some(0.25),
                        ..TargetStatus::default()
                    },
                    TargetStatus {
                        target: "tcp://127.0.0.1:9".into(),
                        ..TargetStatus::default()
                    },
                ],
                ..CheckStatus::default()
            },
        ],
        programs: vec![ProgramStatus {
            program: "web".into(),
            state: "restarting".into(),
            restarted: 3,
            failed: 1,
            skipped: 0,
            given_up: true,
            restarts_in_window: 2,
        }],
    }
}

fn assert_has(page: &str, line: &str) {
    assert!(
        page.lines().any(|l| l == line),
        "no line {line:?} in:\n{page}"
    );
}

#[test]
fn probe_series_carry_each_targets_last_result_under_blackbox_names() {
    let page = render(&snapshot());
    let web = r#"{check="http://127.0.0.1:8080/",program="web",target="http://127.0.0.1:8080/"}"#;
    assert_has(&page, &format!("probe_success{web} 0"));
    assert_has(&page, &format!("probe_duration_seconds{web} 0.5"));
    assert_has(&page, &format!("probe_http_status_code{web} 500"));
    let api = r#"{check="https://example.test/",program="api:*",target="https://example.test/"}"#;
    assert_has(&page, &format!("probe_success{api} 1"));
    assert_has(&page, &format!("probe_duration_seconds{api} 0.125"));
    assert_has(
        &page,
        &format!("probe_ssl_earliest_cert_expiry{api} 1900000000"),
    );
    assert_has(&page, "# TYPE probe_success gauge");
}

#[test]
fn a_target_not_yet_probed_has_no_probe_series_and_no_expiry_without_a_certificate() {
    let page = render(&snapshot());
    assert!(!page.contains("tcp://127.0.0.1:9"), "{page}");
    assert_eq!(
        page.matches("probe_ssl_earliest_cert_expiry{").count(),
        1,
        "{page}"
    );
}

#[test]
fn failures_are_per_check_and_restarts_per_program_by_outcome() {
    let page = render(&snapshot());
    assert_has(
        &page,
        r#"httpok_check_consecutive_failures{check="http://127.0.0.1:8080/",program="web"} 2"#,
    );
    assert_has(
        &page,
        r#"httpok_check_consecutive_failures{check="https://example.test/",program="api:*"} 0"#,
    );
    assert_has(
        &page,
        r#"httpok_restarts_total{program="web",outcome="restarted"} 3"#,
    );
    assert_has(
        &page,
        r#"httpok_restarts_total{program="web",outcome="failed"} 1"#,
    );
    assert_has(
        &page,
        r#"httpok_restarts_total{program="web",outcome="skipped"} 0"#,
    );
    assert_has(&page, "# TYPE httpok_restarts_total counter");
    assert_has(&page, r#"httpok_given_up{program="web"} 1"#);
    assert_has(
        &page,
        r#"httpok_program_state{program="web",state="restarting"} 1"#,
    );
}

#[test]
fn the_process_series_count_rounds_and_name_the_version() {
    let page = render(&snapshot());
    assert_has(&page, "httpok_rounds_total 42");
    assert_has(&page, "# TYPE httpok_rounds_total counter");
    assert_has(&page, "httpok_round_duration_seconds 0.25");
    assert_has(&page, "httpok_last_round_timestamp_seconds 1900000000.5");
    assert_has(&page, "# TYPE httpok_last_round_timestamp_seconds gauge");
    assert!(
        !page.contains("httpok_supervisord_up"),
        "not asked yet: {page}"
    );
    for (up, line) in [
        (true, "httpok_supervisord_up 1"),
        (false, "httpok_supervisord_up 0"),
    ] {
        let asked = render(&Snapshot {
            supervisord_up: Some(up),
            ..snapshot()
        });
        assert_has(&asked, line);
    }
    assert_has(&page, r#"httpok_build_info{version="9.8.7"} 1"#);
}

#[test]
fn label_values_are_escaped_so_a_name_cannot_break_the_page() {
    let mut snap = Snapshot::default();
    snap.programs.push(ProgramStatus {
        program: "we\"b\\x\ny".into(),
        state: "watching".into(),
        ..ProgramStatus::default()
    });
    let page = render(&snap);
    assert_has(&page, r#"httpok_given_up{program="we\"b\\x\ny"} 0"#);
    // Every line is a comment or a whole sample: the newline did not split one.
    for line in page.lines() {
        assert!(
            line.starts_with('#') || line.starts_with("httpok_") || line.starts_with("probe_"),
            "{line:?} in:\n{page}"
        );
    }
}

#[test]
fn an_empty_snapshot_has_the_process_series_and_no_empty_families() {
    let page = render(&Snapshot::default());
    assert_has(&page, "httpok_rounds_total 0");
    assert_has(&page, "httpok_round_duration_seconds 0.0");
    assert_has(&page, r#"httpok_build_info{version=""} 1"#);
    assert!(!page.contains("probe_"), "{page}");
}

#[test]
fn the_rest_of_blackbox_names_are_served_where_httpok_has_the_fact() {
    let page = render(&snapshot());
    let web = r#"{check="http://127.0.0.1:8080/",program="web",target="http://127.0.0.1:8080/"}"#;
    let api = r#"{check="https://example.test/",program="api:*",target="https://example.test/"}"#;
    assert_has(&page, &format!("probe_failed_due_to_regex{web} 1"));
    assert_has(&page, &format!("probe_failed_due_to_regex{api} 0"));
    assert_has(&page, &format!("probe_http_content_length{api} -1"));
    assert_has(&page, &format!("probe_http_version{api} 1.1"));
    assert_has(&page, &format!("probe_http_ssl{api} 1"));
    assert_has(&page, &format!("probe_dns_lookup_time_seconds{api} 0.25"));
    let tls = r#"{check="https://example.test/",program="api:*",target="https://example.test/",version="TLS 1.2"}"#;
    assert_has(&page, &format!("probe_tls_version_info{tls} 1"));
    // What the web target has no fact for has no series: no answer recorded, no lookup.
    for name in ["probe_http_version", "probe_dns_lookup_time_seconds"] {
        assert!(!page.contains(&format!("{name}{web}")), "{page}");
    }
}

/// Every name a snapshot with every fact renders, from its `# TYPE` lines.
fn served_names() -> std::collections::BTreeSet<String> {
    let mut full = snapshot();
    full.supervisord_up = Some(true);
    render(&full)
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split(' ').next())
        .map(str::to_string)
        .collect()
}

#[test]
fn help_and_the_docs_list_exactly_the_names_served() {
    use clap::CommandFactory;
    let served = served_names();
    assert_eq!(served.len(), 19, "{served:?}");
    let command = crate::cli::Args::command();
    let help = command
        .get_arguments()
        .find(|a| a.get_long() == Some("metrics-listen"))
        .and_then(|a| a.get_long_help().or(a.get_help()))
        .map(ToString::to_string)
        .expect("--metrics-listen has a help");
    let words = |text: &str| -> std::collections::BTreeSet<String> {
        text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .filter(|w| w.starts_with("probe_") || w.starts_with("httpok_"))
            .map(str::to_string)
            .collect()
    };
    assert_eq!(words(&help), served, "--help: {help}");
    // docs/observability.md's table: one row per name.
    let doc = include_str!("../../../docs/observability.md");
    let rows: std::collections::BTreeSet<String> = doc
        .lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|l| l.split('`').next())
        .filter(|w| w.starts_with("probe_") || w.starts_with("httpok_"))
        .map(str::to_string)
        .collect();
    assert_eq!(rows, served, "docs/observability.md's table");
}
