//! A small SVG writer for the HTML report, pure: shapes, lines and labels in a `viewBox`,
//! every number written with one decimal and every text escaped, so a chart is well-formed XML
//! (inline in HTML, or on its own) and the same data gives the same bytes. No plotting crate:
//! the report's charts are bars, lines and polygons, which this draws in a few lines each.

use std::fmt::Write;

/// An SVG document being drawn, in user units of its `viewBox` (`0 0 width height`). It
/// scales to the width of its container (`width="100%"`, the height following the ratio).
pub struct Svg {
    out: String,
}

/// Where a label sits relative to its point.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Anchor {
    Start,
    Middle,
    End,
}

/// How a label is drawn: its size in user units, where it sits, and its CSS class (a
/// stylesheet may resize it).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Label<'a> {
    pub size: f64,
    pub anchor: Anchor,
    pub class: &'a str,
    /// Centred on its `y` whatever its size; otherwise `y` is its baseline and it grows up.
    pub centered: bool,
}

impl Anchor {
    fn name(self) -> &'static str {
        match self {
            Anchor::Start => "start",
            Anchor::Middle => "middle",
            Anchor::End => "end",
        }
    }
}

impl Svg {
    /// A new drawing; `label` is what a screen reader says of it, `class` its CSS class.
    pub fn new(width: f64, height: f64, class: &str, label: &str) -> Svg {
        let mut out = String::with_capacity(4096);
        write!(
            out,
            "<svg class=\"{}\" viewBox=\"0 0 {} {}\" width=\"100%\" role=\"img\" aria-label=\"{}\">",
            escape(class),
            num(width),
            num(height),
            escape(label)
        )
        .expect("writing to a String cannot fail");
        Svg { out }
    }

    /// A tooltip for the element just opened with `group`, or for the whole drawing when it
    /// comes first.
    pub fn title(&mut self, text: &str) {
        write!(self.out, "<title>{}</title>", escape(text))
            .expect("writing to a String cannot fail");
    }

    /// Opens a group (`<g>`) whose children share `class`; close it with `end_group`.
    pub fn group(&mut self, class: &str) {
        write!(self.out, "<g class=\"{}\">", escape(class))
            .expect("writing to a String cannot fail");
    }

    /// Opens a group like `group`, with `data-` attributes carrying what it draws (read by
    /// tests and scripts; a browser ignores them).
    pub fn group_with_data(&mut self, class: &str, data: &[(&str, String)]) {
        write!(self.out, "<g class=\"{}\"", escape(class))
            .expect("writing to a String cannot fail");
        for (name, value) in data {
            write!(self.out, " data-{}=\"{}\"", escape(name), escape(value))
                .expect("writing to a String cannot fail");
        }
        self.out.push('>');
    }

    pub fn end_group(&mut self) {
        self.out.push_str("</g>");
    }

    pub fn rect(&mut self, x: f64, y: f64, width: f64, height: f64, fill: &str) {
        write!(
            self.out,
            "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"{}\"/>",
            num(x),
            num(y),
            num(width.max(0.0)),
            num(height.max(0.0)),
            escape(fill)
        )
        .expect("writing to a String cannot fail");
    }

    /// A closed shape through `points`.
    pub fn polygon(&mut self, points: &[(f64, f64)], fill: &str) {
        write!(
            self.out,
            "<polygon points=\"{}\" fill=\"{}\"/>",
            point_list(points),
            escape(fill)
        )
        .expect("writing to a String cannot fail");
    }

    /// An open line through `points`, `dashed` or solid.
    pub fn polyline(&mut self, points: &[(f64, f64)], stroke: &str, width: f64, dashed: bool) {
        write!(
            self.out,
            "<polyline points=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"{}\"{}/>",
            point_list(points),
            escape(stroke),
            num(width),
            if dashed {
                " stroke-dasharray=\"4 3\""
            } else {
                ""
            }
        )
        .expect("writing to a String cannot fail");
    }

    pub fn line(&mut self, from: (f64, f64), to: (f64, f64), stroke: &str, width: f64) {
        self.polyline(&[from, to], stroke, width, false);
    }

    /// A label at (`x`, `y`) in `style`.
    pub fn text(&mut self, x: f64, y: f64, style: &Label<'_>, text: &str) {
        write!(
            self.out,
            "<text x=\"{}\" y=\"{}\" font-size=\"{}\" text-anchor=\"{}\"{} class=\"{}\">{}</text>",
            num(x),
            num(y),
            num(style.size),
            style.anchor.name(),
            if style.centered {
                " dominant-baseline=\"central\""
            } else {
                ""
            },
            escape(style.class),
            escape(text)
        )
        .expect("writing to a String cannot fail");
    }

    pub fn finish(mut self) -> String {
        self.out.push_str("</svg>");
        self.out
    }
}

fn point_list(points: &[(f64, f64)]) -> String {
    points
        .iter()
        .map(|(x, y)| format!("{},{}", num(*x), num(*y)))
        .collect::<Vec<_>>()
        .join(" ")
}

/// A coordinate to one decimal (a tenth of a user unit is below what any screen shows), with
/// no trailing `.0` and never `-0`; a value that is not finite draws at 0.
pub fn num(value: f64) -> String {
    let tenths = if value.is_finite() {
        (value * 10.0).round()
    } else {
        0.0
    };
    if tenths == 0.0 {
        return "0".to_string();
    }
    let text = format!("{:.1}", tenths / 10.0);
    text.strip_suffix(".0").map_or(text.clone(), str::to_string)
}

/// Escapes text for HTML and XML alike, in an element or a quoted attribute.
pub fn escape(text: &str) -> String {
    crate::export::escape_markup(text, false)
}

/// Round steps for an axis from 0 (or `low`) to `high`: 1, 2 or 5 times a power of ten, the
/// smallest giving at most `max_ticks` intervals.
pub fn tick_step(low: f64, high: f64, max_ticks: u32) -> f64 {
    let span = (high - low).abs().max(f64::EPSILON);
    let rough = span / f64::from(max_ticks.max(1));
    let magnitude = 10_f64.powf(rough.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|factor| factor * magnitude)
        .find(|step| *step >= rough)
        .unwrap_or(10.0 * magnitude)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_short_and_stable() {
        assert_eq!(num(12.0), "12");
        assert_eq!(num(12.345), "12.3");
        assert_eq!(num(-0.01), "0");
        assert_eq!(num(f64::NAN), "0");
        assert_eq!(num(-3.25), "-3.3");
    }

    #[test]
    fn text_is_escaped_and_the_drawing_is_well_formed_xml() {
        assert_eq!(
            escape("a<b>&\"c\"'\u{1}"),
            "a&lt;b&gt;&amp;&quot;c&quot;&#39;"
        );
        let mut svg = Svg::new(100.0, 50.0, "chart", "A <chart> & \"more\"");
        svg.title("</svg><script>alert(1)</script>");
        svg.rect(0.0, 0.0, 10.0, -5.0, "#fff");
        svg.polygon(&[(0.0, 0.0), (1.0, 1.0), (2.0, 0.0)], "red");
        let style = Label {
            size: 10.0,
            anchor: Anchor::End,
            class: "axis",
            centered: true,
        };
        svg.text(1.0, 2.0, &style, "50% & up");
        let text = svg.finish();
        assert!(!text.contains("<script"), "{text}");
        assert!(
            text.contains("height=\"0\""),
            "a negative size draws nothing"
        );
        let document = roxmltree::Document::parse(&text).unwrap();
        assert_eq!(document.root_element().tag_name().name(), "svg");
        assert_eq!(
            document
                .descendants()
                .find(|node| node.has_tag_name("text"))
                .and_then(|node| node.text()),
            Some("50% & up")
        );
    }

    #[test]
    fn ticks_are_round() {
        assert_eq!(tick_step(0.0, 7.3, 5), 2.0);
        assert_eq!(tick_step(0.0, 316.0, 5), 100.0);
        assert_eq!(tick_step(-20.0, 60.0, 4), 20.0);
        assert_eq!(tick_step(0.0, 0.0, 4), tick_step(0.0, f64::EPSILON, 4));
    }
}
