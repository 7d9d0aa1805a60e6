//! `pipework plot`: a `--timeline` record drawn as a picture. Each probe's RTT over time on top,
//! its loss (over the last five echoes) below, and every change the timeline made (a flap edge, a
//! ramp step, a restore) as a vertical line across both, labelled.
//!
//! Drawn once, as SVG (plotters), whose text needs no font until something shows it. A PNG is that
//! SVG rasterised by resvg, with the machine's own fonts: plotters' bitmap backend would need a font
//! compiled in or found by hand, and two renderers would draw two different pictures.

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

const SIZE: (u32, u32) = (1100, 700);

/// Draw `r` into `out`: .svg, or .png (which needs a TrueType font on the machine).
pub fn draw(r: &Record, out: &Path) -> Result<()> {
    let png = match out.extension().and_then(|e| e.to_str()) {
        Some("svg") => false,
        Some("png") => true,
        _ => {
            return Err(Error::invalid(
                "output",
                out.display(),
                "the file name must end in .svg or .png",
            ))
        }
    };
    let svg = svg(r)?;
    let written = if png {
        rasterise(&svg, out)
    } else {
        std::fs::write(out, svg).map_err(|e| e.to_string())
    };
    written.map_err(|e| Error::external(format!("plot {}", out.display()), e))
}

/// The fonts resvg may use: the machine's, with "sans-serif" (what the plot asks for) mapped to one
/// that is there — fontdb would otherwise look for Arial.
fn fonts() -> std::result::Result<resvg::usvg::fontdb::Database, String> {
    let mut db = resvg::usvg::fontdb::Database::new();
    db.load_system_fonts();
    let families: Vec<String> = db
        .faces()
        .flat_map(|f| f.families.iter().map(|(name, _)| name.clone()))
        .collect();
    let sans = families
        .iter()
        .find(|f| f.contains("Sans") && !f.contains("Mono"))
        .or(families.first())
        .ok_or("a PNG needs a TrueType font to draw its text, and this machine has none (Debian: apt-get install fonts-dejavu-core); the .svg needs none")?
        .clone();
    db.set_sans_serif_family(sans);
    Ok(db)
}

fn rasterise(svg: &str, out: &Path) -> std::result::Result<(), String> {
    use resvg::{tiny_skia, usvg};
    let mut opt = usvg::Options::default();
    *opt.fontdb_mut() = fonts()?;
    let tree = usvg::Tree::from_str(svg, &opt).map_err(|e| e.to_string())?;
    let mut pixmap = tiny_skia::Pixmap::new(SIZE.0, SIZE.1).ok_or("an empty picture")?;
    resvg::render(&tree, tiny_skia::Transform::default(), &mut pixmap.as_mut());
    pixmap.save_png(out).map_err(|e| e.to_string())
}

/// The picture as SVG text.
fn svg(r: &Record) -> Result<String> {
    if r.probes.is_empty() && r.changes.is_empty() {
        return Err(Error::invalid(
            "timeline record",
            "",
            "no probes and no changes in it: nothing to draw (record a play with probe() and --timeline)",
        ));
    }
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
    let mut text = String::new();
    paint(
        r,
        SVGBackend::with_string(&mut text, SIZE).into_drawing_area(),
        end,
        top,
    )?;
    Ok(text)
}

fn paint(
    r: &Record,
    root: DrawingArea<SVGBackend<'_>, plotters::coord::Shift>,
    end: f64,
    top: f64,
) -> Result<()> {
    let fail = |e: &dyn std::fmt::Display| Error::external("plot", e.to_string());
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
    root.present().map_err(|e| fail(&e))
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
        // The PNG is the same picture rasterised: its size, and ink where the text and lines are.
        let png = dir.join("t.png");
        draw(&r, &png).unwrap();
        let img = resvg::tiny_skia::Pixmap::load_png(&png).unwrap();
        assert_eq!((img.width(), img.height()), SIZE);
        let ink = |x0: u32, x1: u32, y0: u32, y1: u32| {
            (y0..y1)
                .flat_map(|y| (x0..x1).map(move |x| (x, y)))
                .filter(|&(x, y)| {
                    let p = img.pixel(x, y).unwrap();
                    p.red() < 128 && p.green() < 128 && p.blue() < 128
                })
                .count()
        };
        // The caption "RTT over time", centred at the top: text drawn, so a font was found.
        assert!(ink(450, 650, 0, 30) > 50, "no caption text in the PNG");
        assert!(draw(&r, &dir.join("t.gif")).is_err());
        assert!(read("not json").is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
