//! Invoices and receipts as PDF: lines of text on A4 pages in the standard Helvetica fonts
//! (no font to embed, nothing to download), which is all a bill needs. Text is encoded as
//! WinAnsi; a character it lacks is written as `?` rather than breaking the file.

/// One line of a document.
#[derive(Debug, Clone, PartialEq)]
pub enum Line {
    Title(String),
    Bold(String),
    Text(String),
    /// Cells at these distances from the left margin (points).
    Row(Vec<(f32, String)>),
    Gap,
}

const PAGE_W: f32 = 595.0;
const PAGE_H: f32 = 842.0;
const MARGIN: f32 = 56.0;

/// A character in WinAnsiEncoding, as the byte a PDF string holds.
fn win_ansi(c: char) -> u8 {
    match c {
        '€' => 0x80,
        '‚' => 0x82,
        '„' => 0x84,
        '…' => 0x85,
        '‘' => 0x91,
        '’' => 0x92,
        '“' => 0x93,
        '”' => 0x94,
        '•' => 0x95,
        '–' => 0x96,
        '—' => 0x97,
        '\u{202f}' | '\u{a0}' => b' ',
        c if (c as u32) < 0x80 && !c.is_control() => c as u8,
        c if (0xa0..=0xff).contains(&(c as u32)) => c as u32 as u8,
        _ => b'?',
    }
}

/// `(text)` with the PDF escapes.
fn string(text: &str) -> Vec<u8> {
    let mut out = vec![b'('];
    for c in text.chars() {
        match win_ansi(c) {
            b @ (b'(' | b')' | b'\\') => out.extend_from_slice(&[b'\\', b]),
            b => out.push(b),
        }
    }
    out.push(b')');
    out
}

/// The document, paginated.
pub fn render(lines: &[Line]) -> Vec<u8> {
    // page contents, each a list of drawing operators
    let mut pages: Vec<Vec<u8>> = vec![Vec::new()];
    let mut y = PAGE_H - MARGIN;
    for line in lines {
        let (size, gap) = match line {
            Line::Title(_) => (18.0, 26.0),
            Line::Bold(_) | Line::Text(_) | Line::Row(_) => (10.0, 14.0),
            Line::Gap => (10.0, 10.0),
        };
        if y - gap < MARGIN {
            pages.push(Vec::new());
            y = PAGE_H - MARGIN;
        }
        y -= gap;
        let Some(page) = pages.last_mut() else {
            continue;
        };
        let mut put = |font: &str, x: f32, text: &str| {
            page.extend_from_slice(
                format!("BT /{font} {size} Tf {:.1} {y:.1} Td ", MARGIN + x).as_bytes(),
            );
            page.extend_from_slice(&string(text));
            page.extend_from_slice(b" Tj ET\n");
        };
        match line {
            Line::Title(t) | Line::Bold(t) => put("F2", 0.0, t),
            Line::Text(t) => put("F1", 0.0, t),
            Line::Row(cells) => {
                for (x, t) in cells {
                    put("F1", *x, t);
                }
            }
            Line::Gap => {}
        }
    }
    let n = pages.len();
    // objects: 1 catalog, 2 page tree, 3 and 4 fonts, then a page and its content per page
    let mut objects: Vec<Vec<u8>> = vec![
        b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
        format!(
            "<< /Type /Pages /Kids [{}] /Count {n} >>",
            (0..n)
                .map(|i| format!("{} 0 R", 5 + 2 * i))
                .collect::<Vec<_>>()
                .join(" ")
        )
        .into_bytes(),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>"
            .to_vec(),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica-Bold /Encoding /WinAnsiEncoding >>"
            .to_vec(),
    ];
    for (i, content) in pages.iter().enumerate() {
        objects.push(
            format!(
                "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {PAGE_W} {PAGE_H}] \
                 /Resources << /Font << /F1 3 0 R /F2 4 0 R >> >> /Contents {} 0 R >>",
                6 + 2 * i
            )
            .into_bytes(),
        );
        let mut stream = format!("<< /Length {} >>\nstream\n", content.len()).into_bytes();
        stream.extend_from_slice(content);
        stream.extend_from_slice(b"endstream");
        objects.push(stream);
    }
    let mut out = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n".to_vec();
    let mut offsets = Vec::with_capacity(objects.len());
    for (i, o) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n", i + 1).as_bytes());
        out.extend_from_slice(o);
        out.extend_from_slice(b"\nendobj\n");
    }
    let xref = out.len();
    out.extend_from_slice(
        format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes(),
    );
    for o in offsets {
        out.extend_from_slice(format!("{o:010} 00000 n \n").as_bytes());
    }
    out.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .as_bytes(),
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_document_is_a_well_formed_pdf_with_its_text() {
        let doc = render(&[
            Line::Title("Invoice 7".into()),
            Line::Text("Acme (Dental) \\ Co. – Müller, 12 ¢, 10 €".into()),
            Line::Row(vec![
                (0.0, "Base charge".into()),
                (400.0, "49.00 USD".into()),
            ]),
        ]);
        let text = String::from_utf8_lossy(&doc);
        assert!(text.starts_with("%PDF-1.4"));
        assert!(text.ends_with("%%EOF\n"));
        assert!(text.contains("(Acme \\(Dental\\) \\\\ Co. "), "{text}");
        // every xref offset points at its object
        let xref_at: usize = text
            .rsplit("startxref\n")
            .next()
            .unwrap()
            .lines()
            .next()
            .unwrap()
            .parse()
            .unwrap();
        let table = &doc[xref_at..];
        let entries: Vec<usize> = String::from_utf8_lossy(table)
            .lines()
            .skip(3)
            .take_while(|l| l.ends_with(" n "))
            .map(|l| l[..10].parse().unwrap())
            .collect();
        for (i, at) in entries.iter().enumerate() {
            assert!(
                doc[*at..].starts_with(format!("{} 0 obj", i + 1).as_bytes()),
                "object {}",
                i + 1
            );
        }
        assert_eq!(win_ansi('€'), 0x80);
        assert_eq!(win_ansi('ü'), 0xfc);
        assert_eq!(win_ansi('漢'), b'?');
    }

    #[test]
    fn long_documents_go_on_more_pages() {
        let lines: Vec<Line> = (0..200).map(|i| Line::Text(format!("line {i}"))).collect();
        let doc = String::from_utf8_lossy(&render(&lines)).into_owned();
        let pages = doc.matches("/Type /Page ").count();
        assert!(pages >= 4, "{pages} pages");
        assert!(doc.contains(&format!("/Count {pages}")));
    }
}
