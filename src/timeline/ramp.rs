//! Ramps: a qdisc profile moved from one setting to another in steps, each step replacing the root
//! qdisc (one qdisc throughout, never stacked). Values in between are linear; a netem field one
//! end leaves out counts as zero there (no delay, no loss).

use crate::error::{Error, Result};
use crate::net::{Netem, Qdisc, Tbf};
use std::time::Duration;

fn mix(a: f64, b: f64, f: f64) -> f64 {
    a + (b - a) * f
}

fn mix_dur(a: Option<Duration>, b: Option<Duration>, f: f64) -> Option<Duration> {
    (a.is_some() || b.is_some()).then(|| {
        let (a, b) = (a.unwrap_or_default(), b.unwrap_or_default());
        Duration::from_secs_f64(mix(a.as_secs_f64(), b.as_secs_f64(), f))
    })
}

/// The profile a fraction `f` (0 to 1) of the way from `a` to `b`.
pub fn between(a: &Qdisc, b: &Qdisc, f: f64) -> Result<Qdisc> {
    let f = f.clamp(0.0, 1.0);
    Ok(match (a, b) {
        (Qdisc::Netem(x), Qdisc::Netem(y)) => {
            if x.rate.is_some() != y.rate.is_some() {
                return Err(Error::invalid(
                    "ramp",
                    "rate",
                    "give a rate at both ends or at neither (a rate of zero passes nothing)",
                ));
            }
            Qdisc::Netem(Netem {
                delay: mix_dur(x.delay, y.delay, f),
                jitter: mix_dur(x.jitter, y.jitter, f),
                loss: (x.loss.is_some() || y.loss.is_some())
                    .then(|| mix(x.loss.unwrap_or(0.0), y.loss.unwrap_or(0.0), f)),
                rate: x
                    .rate
                    .zip(y.rate)
                    .map(|(p, q)| mix(p as f64, q as f64, f).round() as u64),
                limit: y.limit.or(x.limit),
            })
        }
        (Qdisc::Tbf(x), Qdisc::Tbf(y)) => Qdisc::Tbf(Tbf {
            rate: mix(x.rate as f64, y.rate as f64, f).round() as u64,
            burst: mix(x.burst as f64, y.burst as f64, f).round() as u32,
            limit: mix(x.limit as f64, y.limit as f64, f).round() as u32,
        }),
        _ => {
            return Err(Error::invalid(
                "ramp",
                "from/to",
                "both ends must be the same kind: netem (delay, jitter, loss…) or tbf (rate, burst, latency)",
            ))
        }
    })
}

/// The profile as the record shows it.
pub fn describe(q: &Qdisc) -> serde_json::Value {
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    match q {
        Qdisc::Default => serde_json::json!({"qdisc": "default"}),
        Qdisc::Netem(n) => {
            let mut v = serde_json::json!({"qdisc": "netem"});
            if let Some(d) = n.delay {
                v["delay_ms"] = ms(d).into();
            }
            if let Some(j) = n.jitter {
                v["jitter_ms"] = ms(j).into();
            }
            if let Some(l) = n.loss {
                v["loss_pct"] = l.into();
            }
            if let Some(r) = n.rate {
                v["rate_bit"] = (r * 8).into();
            }
            v
        }
        Qdisc::Tbf(t) => {
            serde_json::json!({"qdisc": "tbf", "rate_bit": t.rate * 8, "burst": t.burst})
        }
        Qdisc::Htb(h) => serde_json::json!({
            "qdisc": "htb",
            "rate_bit": h.rate * 8,
            "classes": h.classes.iter().map(|c| serde_json::json!({
                "rate_bit": c.rate * 8,
                "ceil_bit": c.ceil * 8,
            })).collect::<Vec<_>>(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn netem_steps_are_linear_and_missing_fields_start_at_zero() {
        let a = Qdisc::Netem(Netem {
            delay: Some(Duration::from_millis(10)),
            ..Default::default()
        });
        let b = Qdisc::Netem(Netem {
            delay: Some(Duration::from_millis(210)),
            loss: Some(5.0),
            ..Default::default()
        });
        let Qdisc::Netem(m) = between(&a, &b, 0.5).unwrap() else {
            panic!()
        };
        assert_eq!(m.delay, Some(Duration::from_millis(110)));
        assert_eq!(m.loss, Some(2.5));
        assert_eq!(between(&a, &b, 1.0).unwrap(), b);
        assert_eq!(between(&a, &b, 0.0).unwrap(), {
            let Qdisc::Netem(mut z) = a.clone() else {
                panic!()
            };
            z.loss = Some(0.0);
            Qdisc::Netem(z)
        });
    }

    #[test]
    fn tbf_rates_step_and_kinds_must_agree() {
        let a = Qdisc::Tbf(Tbf::new(1_000_000, None, None));
        let b = Qdisc::Tbf(Tbf::new(3_000_000, None, None));
        let Qdisc::Tbf(m) = between(&a, &b, 0.5).unwrap() else {
            panic!()
        };
        assert_eq!(m.rate, 2_000_000);
        let n = Qdisc::Netem(Netem::default());
        assert!(between(&a, &n, 0.5).is_err());
    }
}
