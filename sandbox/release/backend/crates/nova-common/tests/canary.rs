use nova_common::{canary_healthy, error_rate_pct};

#[test]
fn a_bad_canary_is_rejected() {
    let pct = error_rate_pct(14, 1000);
    assert!(!canary_healthy(pct, 200.0));
}
