//! The self-test plan's targets and commands, and the check's verdicts on small event sets.

use super::*;

#[test]
fn only_lab_addresses_are_targets() {
    assert!(lab_target(Some("192.168.50.4")).is_ok());
    assert!(lab_target(Some("10.1.2.3")).is_ok());
    assert!(lab_target(Some("fd00::5")).is_ok());
    assert!(lab_target(Some("127.0.0.1")).is_ok());
    assert!(lab_target(None).unwrap_err().contains("no lab target"));
    assert!(lab_target(Some("8.8.8.8"))
        .unwrap_err()
        .contains("not a lab address"));
    assert!(lab_target(Some("2001:4860::8888")).is_err());
    assert!(lab_target(Some("224.0.0.1")).is_err());
    assert!(lab_target(Some("lab.example.com"))
        .unwrap_err()
        .contains("not an IP address"));
}

#[test]
fn plan_prints_bounded_commands_or_refuses() {
    let cfg = Config::default();
    let p = plan(Some("192.168.50.4"), &cfg);
    assert!(!p.refused);
    assert!(p
        .text
        .contains("sudo ping -c 200 -i 0.01 -t 10 -p 6677746573742d70696e67 192.168.50.4"));
    assert!(p.text.contains("--max-time 1"));
    assert!(p.text.contains("range(2000)"));
    for bad in [None, Some("1.1.1.1")] {
        let r = plan(bad, &cfg);
        assert!(r.refused);
        assert!(r.text.contains("REFUSED"));
        assert!(!r.text.contains("sudo ping"));
    }
}
