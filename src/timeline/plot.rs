//! `pipework plot`: a `--timeline` record drawn as a picture. Each probe's RTT over time on top,
//! its loss (over the last five echoes) below, and every change the timeline made (a flap edge, a
//! ramp step, a restore) as a vertical line across both, labelled.

use crate::error::{Error, Result};
use plotters::prelude::*;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

/// One probe's echoes: (time s, RTT ms or None when lost).
type Series = Vec<(f64, Option<f64>)>;

/// What a record holds, read for drawing.
#[derive(Default, Debug)]
pub struct Record {
    pub probes: BTreeMap<String, Series>,
    /// (time s, label)
    pub changes: Vec<(f64, String)>,
}

/// Read a `--timeline` file (JSON lines); lines of other events are skipped, a line that is not
/// JSON is an error naming it.
pub fn read(text: &str) -> Result<Record> {
    let mut r = Record::default();
    for (i, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let v: Value = serde_json::from_str(line)
            .map_err(|e| Error::invalid("timeline record", format!("line {}", i + 1), e))?;
        let t = v["applied_ms"].as_f64().unwrap_or(0.0) / 1e3;
        match v["event"].as_str() {
            Some("probe") => {
                let key = format!(
                    "{} → {}",
                    v["guest"].as_str().unwrap_or("?"),
                    v["dst"].as_str().unwrap_or("?")
                );
                let planned = v["planned_ms"].as_f64().unwrap_or(0.0) / 1e3;
                r.probes
                    .entry(key)
                    .or_default()
                    .push((planned, v["rtt_ms"].as_f64()));
            }
            Some("flap") => r.changes.push((
                t,
                format!(
                    "{} {}",
                    v["link"].as_str().unwrap_or("?"),
                    v["state"].as_str().unwrap_or("?")
                ),
            )),
            Some("ramp") => {
                let what = match v["qdisc"].as_str() {
                    Some("netem") => {
                        let mut parts = vec![];
                        if let Some(d) = v["delay_ms"].as_f64() {
                            parts.push(format!("{d:.0}ms"));
                        }
                        if let Some(l) = v["loss_pct"].as_f64() {
                            parts.push(format!("{l:.1}% loss"));
                        }
                        parts.join(" ")
                    }
                    _ => v["rate_bit"]
                        .as_f64()
                        .map(|b| format!("{:.1}mbit", b / 1e6))
                        .unwrap_or_default(),
                };
                r.changes.push((t, what));
            }
            Some("restore") => r.changes.push((t, "restored".into())),
            _ => {}
        }
    }
    for s in r.probes.values_mut() {
        s.sort_by(|a, b| a.0.total_cmp(&b.0));
    }
    r.changes.sort_by(|a, b| a.0.total_cmp(&b.0));
    Ok(r)
}

/// Loss in percent over the last `n` echoes at each echo.
fn rolling_loss(s: &Series, n: usize) -> Vec<(f64, f64)> {
    (0..s.len())
        .map(|i| {
            let w = &s[i.saturating_sub(n - 1)..=i];
            let lost = w.iter().filter(|x| x.1.is_none()).count();
            (s[i].0, 100.0 * lost as f64 / w.len() as f64)
        })
        .collect()
}

/// Draw `r` into `out` (.svg).
pub fn draw(r: &Record, out: &Path) -> Result<()> {
    match out.extension().and_then(|e| e.to_str()) {
        Some("svg") => {}
        Some("png") => {
            return Err(Error::invalid(
                "output",
                out.display(),
                "PNG is not drawn yet (it needs a font to rasterise text); use .svg, which any browser shows",
            ))
        }
        _ => {
            return Err(Error::invalid(
                "output",
                out.display(),
                "the file name must end in .svg",
            ))
        }
    }
    if r.probes.is_empty() && r.changes.is_empty() {
        return Err(Error::invalid(
            "timeline record",
            "",
            "no probes and no changes in it: nothing to draw (record a play with probe() and --timeline)",
        ));
    }
    let fail = |e: &dyn std::fmt::Display| Error::external("plot", e.to_string());
    let end = r
        .probes
        .values()
        .flat_map(|s| s.iter().map(|x| x.0))
        .chain(r.changes.iter().map(|c| c.0))
        .fold(0.0f64, f64::max)
        .max(0.1)
        * 1.04; // room for the last change's label
    let top = r
        .probes
        .values()
        .flat_map(|s| s.iter().filter_map(|x| x.1))
        .fold(1.0f64, f64::max)
        * 1.15;
    let root = SVGBackend::new(out, (1100, 700)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| fail(&e))?;
    let (upper, lower) = root.split_vertically(460);
    let colors = [BLUE, GREEN, MAGENTA, CYAN, BLACK];
    let mut rtt = ChartBuilder::on(&upper)
        .caption("RTT over time", ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(28)
        .y_label_area_size(56)
        .build_cartesian_2d(0f64..end, 0f64..top)
        .map_err(|e| fail(&e))?;
    rtt.configure_mesh()
        .x_desc("seconds into the play")
        .y_desc("RTT (ms)")
        .draw()
        .map_err(|e| fail(&e))?;
    let mut loss = ChartBuilder::on(&lower)
        .caption("loss (last 5 echoes)", ("sans-serif", 16))
        .margin(12)
        .x_label_area_size(28)
        .y_label_area_size(56)
        .build_cartesian_2d(0f64..end, 0f64..105f64)
        .map_err(|e| fail(&e))?;
    loss.configure_mesh()
        .x_desc("seconds into the play")
        .y_desc("loss (%)")
        .draw()
        .map_err(|e| fail(&e))?;
    for (i, (name, s)) in r.probes.iter().enumerate() {
        let c = colors[i % colors.len()];
        // A line through answered echoes, broken where echoes were lost.
        let mut run = vec![];
        let mut runs = vec![];
        for x in s {
            match x.1 {
                Some(ms) => run.push((x.0, ms)),
                None if !run.is_empty() => runs.push(std::mem::take(&mut run)),
                None => {}
            }
        }
        runs.push(run);
        for (k, run) in runs.into_iter().enumerate() {
            let series = rtt
                .draw_series(LineSeries::new(run, c.stroke_width(2)))
                .map_err(|e| fail(&e))?;
            if k == 0 {
                series
                    .label(name.clone())
                    .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], c));
            }
        }
        rtt.draw_series(
            s.iter()
                .filter(|x| x.1.is_none())
                .map(|x| Cross::new((x.0, 0.0), 4, RED.stroke_width(2))),
        )
        .map_err(|e| fail(&e))?;
        loss.draw_series(LineSeries::new(rolling_loss(s, 5), c.stroke_width(2)))
            .map_err(|e| fail(&e))?;
    }
    // The changes, across both panels, labelled in the upper one.
    for (t, what) in &r.changes {
        rtt.draw_series(std::iter::once(PathElement::new(
            vec![(*t, 0.0), (*t, top)],
            RED.mix(0.5),
        )))
        .map_err(|e| fail(&e))?;
        rtt.draw_series(std::iter::once(Text::new(
            what.clone(),
            (*t, top * 0.97),
            ("sans-serif", 11).into_font().color(&RED),
        )))
        .map_err(|e| fail(&e))?;
        loss.draw_series(std::iter::once(PathElement::new(
            vec![(*t, 0.0), (*t, 105.0)],
            RED.mix(0.5),
        )))
        .map_err(|e| fail(&e))?;
    }
    if !r.probes.is_empty() {
        rtt.configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()
            .map_err(|e| fail(&e))?;
    }
    root.present().map_err(|e| fail(&e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const RECORD: &str = r#"{"planned_ms":0.0,"applied_ms":0.1,"event":"probe","guest":"netns:a","dst":"198.18.0.3","seq":0,"rtt_ms":0.05}
{"planned_ms":200.0,"applied_ms":200.1,"event":"flap","link":"netns:b:eth1","end":"guest end","state":"down"}
{"planned_ms":250.0,"applied_ms":250.1,"event":"probe","guest":"netns:a","dst":"198.18.0.3","seq":1,"lost":true}
{"planned_ms":500.0,"applied_ms":500.2,"event":"ramp","qdisc":"netem","delay_ms":70.0,"link":"netns:a:eth1","step":1,"steps":4}
{"planned_ms":500.0,"applied_ms":500.1,"event":"call","n":0}
"#;

    #[test]
    fn a_record_reads_into_series_and_changes_and_draws() {
        let r = read(RECORD).unwrap();
        let s = &r.probes["netns:a → 198.18.0.3"];
        assert_eq!(s, &vec![(0.0, Some(0.05)), (0.25, None)]);
        assert_eq!(r.changes.len(), 2);
        assert_eq!(r.changes[1].1, "70ms");
        assert_eq!(rolling_loss(s, 5), vec![(0.0, 0.0), (0.25, 50.0)]);
        let dir = std::env::temp_dir().join(format!("pipework-plot-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let svg = dir.join("t.svg");
        draw(&r, &svg).unwrap();
        let text = std::fs::read_to_string(&svg).unwrap();
        assert!(
            text.starts_with("<svg") && text.contains("RTT over time") && text.contains("70ms")
        );
        assert!(draw(&r, &dir.join("t.png")).is_err());
        assert!(read("not json").is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
