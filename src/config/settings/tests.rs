//! Layers, precedence, and every rule's error naming where the value was given.

use super::*;

fn file(line: usize) -> Origin {
    Origin::File {
        path: Arc::from(Path::new("httpok.toml")),
        line,
    }
}

#[test]
fn a_layer_over_another_wins_where_it_gives_a_value() {
    let flags = Layer {
        timeout: Some(Given::new(2.0, Origin::Flag("-t/--timeout"))),
        ..Layer::default()
    };
    let top = Layer {
        timeout: Some(Given::new(5.0, file(1))),
        failures: Some(Given::new(3, file(2))),
        ..Layer::default()
    };
    let merged = flags.over(&top).resolve().expect("valid");
    assert_eq!(merged.probe.timeout, Duration::from_secs(2));
    assert_eq!(merged.policy.failures, 3);
    assert_eq!(merged.policy.successes, 1);
}

#[test]
fn errors_name_the_flag_or_the_file_line_and_key() {
    let bad = |layer: Layer| layer.resolve().expect_err("invalid");
    let e = bad(Layer {
        timeout: Some(Given::new(0.0, file(7))),
        ..Layer::default()
    });
    assert!(e.starts_with("httpok.toml:7: timeout must be"), "{e}");
    let e = bad(Layer {
        timeout: Some(Given::new(-1.0, Origin::Flag("-t/--timeout"))),
        ..Layer::default()
    });
    assert!(e.starts_with("-t/--timeout must be"), "{e}");
    let e = bad(Layer {
        max_restarts: Some(Given::new(2, file(4))),
        ..Layer::default()
    });
    assert!(
        e.starts_with("httpok.toml:4: max_restarts needs restart_window"),
        "{e}"
    );
    let e = bad(Layer {
        codes: Some(Given::new(vec!["7xx".into()], file(3))),
        ..Layer::default()
    });
    assert!(e.starts_with("httpok.toml:3: codes \"7xx\""), "{e}");
    let e = bad(Layer {
        body_regex: Some(Given::new("(".into(), file(5))),
        ..Layer::default()
    });
    assert_eq!(
        e,
        "httpok.toml:5: body_regex \"(\" is not a valid regular expression: unclosed group"
    );
    let e = bad(Layer {
        body: Some(Given::new("OK".into(), file(2))),
        method: Some(Given::new("HEAD".into(), Origin::Flag("--method"))),
        ..Layer::default()
    });
    assert!(
        e.starts_with("httpok.toml:2: body cannot pass with --method HEAD"),
        "{e}"
    );
    let e = bad(Layer {
        headers: Some(Given::new(vec![("Bad Name".into(), "x".into())], file(9))),
        ..Layer::default()
    });
    assert!(
        e.starts_with("httpok.toml:9: headers has a bad header name"),
        "{e}"
    );
    let e = bad(Layer {
        send: Some(Given::new("PING\\q".into(), file(6))),
        ..Layer::default()
    });
    assert!(
        e.starts_with("httpok.toml:6: send has an unknown escape \\q"),
        "{e}"
    );
    for (layer, key) in [
        (
            Layer {
                failures: Some(Given::new(0, file(1))),
                ..Layer::default()
            },
            "failures",
        ),
        (
            Layer {
                successes: Some(Given::new(0, file(1))),
                ..Layer::default()
            },
            "successes",
        ),
        (
            Layer {
                interval: Some(Given::new(0, file(1))),
                ..Layer::default()
            },
            "interval",
        ),
        (
            Layer {
                stop_grace: Some(Given::new(0, file(1))),
                ..Layer::default()
            },
            "stop_grace",
        ),
    ] {
        let e = bad(layer);
        assert!(
            e.starts_with(&format!("httpok.toml:1: {key} must be at least 1")),
            "{e}"
        );
    }
}

#[test]
fn an_interval_or_stop_grace_the_clock_cannot_hold_is_refused() {
    let bad = |layer: Layer| layer.resolve().expect_err("invalid");
    let e = bad(Layer {
        interval: Some(Given::new(u64::MAX, Origin::Flag("--interval"))),
        ..Layer::default()
    });
    assert!(
        e.starts_with("--interval must be at most 31536000 seconds"),
        "{e}"
    );
    let e = bad(Layer {
        stop_grace: Some(Given::new(601, file(3))),
        ..Layer::default()
    });
    assert!(
        e.starts_with("httpok.toml:3: stop_grace must be at most 600 seconds"),
        "{e}"
    );
    let fine = Layer {
        interval: Some(Given::new(MAX_INTERVAL, file(1))),
        stop_grace: Some(Given::new(MAX_STOP_GRACE, file(2))),
        ..Layer::default()
    };
    assert!(fine.resolve().is_ok());
}

#[test]
fn send_escapes_are_decoded() {
    assert_eq!(unescape("PING\\r\\n").expect("ok"), b"PING\r\n");
    assert_eq!(unescape("a\\tb\\\\c").expect("ok"), b"a\tb\\c");
    assert!(unescape("x\\").is_err());
    assert!(unescape("\\x41").is_err());
}
