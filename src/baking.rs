//! Baked badges: an image that carries its own badge, so a learner can upload one file to a
//! backpack (Open Badges 2.0, "Baking"). A PNG holds it in an `iTXt` chunk with the keyword
//! `openbadges`; an SVG in an `<openbadges:assertion verify="URL">` element right inside its
//! root. Either way the embedded text is the assertion's JSON, and verifiers still fetch the
//! hosted assertion at its `id` (so a baked badge revoked later fails verification).
//!
//! The PNG is the badge class's generated SVG drawn by resvg with a font shipped in the binary
//! (`assets/fonts`, DejaVu Sans Bold), so it looks the same on every machine, with or without
//! system fonts. Drawing costs milliseconds, so the drawn image is kept per SVG (a bounded
//! map); baking one assertion into it is a copy and a checksum.

use std::collections::BTreeMap;
use std::sync::{Arc, LazyLock, Mutex};

use anyhow::{Context, Result, bail};
use resvg::{tiny_skia, usvg};
use sha2::{Digest, Sha256};

/// The namespace of the SVG baking element.
pub const SVG_NAMESPACE: &str = "http://openbadges.org";

/// Side of a drawn PNG, in pixels.
pub const PNG_SIZE: u32 = 256;

/// The most drawn images kept; when full, the map starts over.
const KEPT: usize = 512;

static FONTS: LazyLock<Arc<usvg::fontdb::Database>> = LazyLock::new(|| {
    let mut db = usvg::fontdb::Database::new();
    db.load_font_data(include_bytes!("../assets/fonts/DejaVuSans-Bold.ttf").to_vec());
    db.set_sans_serif_family("DejaVu Sans");
    Arc::new(db)
});

/// Drawn PNGs by the SHA-256 of their SVG.
type Drawn = BTreeMap<[u8; 32], Arc<Vec<u8>>>;

static DRAWN: LazyLock<Mutex<Drawn>> = LazyLock::new(|| Mutex::new(BTreeMap::new()));

/// Draws an SVG as a PNG of [`PNG_SIZE`] pixels a side (kept for the next call with the same
/// SVG).
///
/// # Errors
/// When the SVG does not parse or cannot be drawn.
pub fn png(svg: &str) -> Result<Arc<Vec<u8>>> {
    let key: [u8; 32] = Sha256::digest(svg.as_bytes()).into();
    if let Some(png) = DRAWN.lock().unwrap_or_else(std::sync::PoisonError::into_inner).get(&key) {
        return Ok(Arc::clone(png));
    }
    let options = usvg::Options { fontdb: Arc::clone(&FONTS), ..usvg::Options::default() };
    let tree = usvg::Tree::from_str(svg, &options).context("reading the badge's SVG")?;
    let mut pixmap = tiny_skia::Pixmap::new(PNG_SIZE, PNG_SIZE).context("making a canvas")?;
    let size = tree.size();
    let scale = PNG_SIZE as f32 / size.width().max(size.height());
    resvg::render(&tree, tiny_skia::Transform::from_scale(scale, scale), &mut pixmap.as_mut());
    let png = Arc::new(pixmap.encode_png().context("encoding the PNG")?);
    let mut drawn = DRAWN.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    if drawn.len() >= KEPT {
        drawn.clear();
    }
    drawn.insert(key, Arc::clone(&png));
    Ok(png)
}

const PNG_SIGNATURE: &[u8; 8] = b"\x89PNG\r\n\x1a\n";

/// The chunks of a PNG: (type, data), checked for their lengths (not their checksums).
fn chunks(png: &[u8]) -> Result<Vec<([u8; 4], &[u8])>> {
    let Some(mut rest) = png.strip_prefix(PNG_SIGNATURE) else { bail!("not a PNG") };
    let mut out = Vec::new();
    while !rest.is_empty() {
        if rest.len() < 12 {
            bail!("a PNG chunk is cut short");
        }
        let len = u32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
        let kind = [rest[4], rest[5], rest[6], rest[7]];
        let data = rest.get(8..8 + len).context("a PNG chunk is longer than the file")?;
        out.push((kind, data));
        rest = rest.get(12 + len..).context("a PNG chunk is cut short")?;
    }
    Ok(out)
}

fn push_chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&u32::try_from(data.len()).unwrap_or(u32::MAX).to_be_bytes());
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let mut crc = crc32fast::Hasher::new();
    crc.update(kind);
    crc.update(data);
    out.extend_from_slice(&crc.finalize().to_be_bytes());
}

/// The text of the `iTXt` chunk with `keyword`, uncompressed, if the PNG has one.
pub fn png_text(png: &[u8], keyword: &str) -> Option<String> {
    chunks(png).ok()?.into_iter().filter(|(kind, _)| kind == b"iTXt").find_map(|(_, data)| {
        let (key, rest) = data.split_at(data.iter().position(|b| *b == 0)?);
        if key != keyword.as_bytes() || rest.get(1) != Some(&0) {
            return None;
        }
        // Compression flag and method, then a language tag and a translated keyword, each
        // ended by a zero byte.
        let rest = rest.get(3..)?;
        let language_end = rest.iter().position(|b| *b == 0)?;
        let rest = &rest[language_end + 1..];
        let translated_end = rest.iter().position(|b| *b == 0)?;
        String::from_utf8(rest[translated_end + 1..].to_vec()).ok()
    })
}

/// `png` with `text` in an uncompressed `iTXt` chunk named `keyword` right after the header
/// (one such chunk: an earlier one with the same keyword is replaced).
///
/// # Errors
/// When `png` is not a well-formed PNG.
pub fn bake_png(png: &[u8], keyword: &str, text: &str) -> Result<Vec<u8>> {
    let chunks = chunks(png)?;
    if chunks.first().map(|(kind, _)| kind) != Some(b"IHDR") {
        bail!("a PNG starts with its header");
    }
    let mut data = Vec::with_capacity(keyword.len() + 5 + text.len());
    data.extend_from_slice(keyword.as_bytes());
    data.extend_from_slice(&[0, 0, 0, 0, 0]);
    data.extend_from_slice(text.as_bytes());
    let mut out = Vec::with_capacity(png.len() + data.len() + 12);
    out.extend_from_slice(PNG_SIGNATURE);
    for (i, (kind, chunk)) in chunks.iter().enumerate() {
        let same = kind == b"iTXt" && chunk.split(|b| *b == 0).next() == Some(keyword.as_bytes());
        if !same {
            push_chunk(&mut out, kind, chunk);
        }
        if i == 0 {
            push_chunk(&mut out, b"iTXt", &data);
        }
    }
    Ok(out)
}

/// `svg` with an `<openbadges:assertion verify="URL">` holding `json` right inside its root
/// element (and the namespace declared on it).
///
/// # Errors
/// When `svg` has no `<svg` root element.
pub fn bake_svg(svg: &str, verify: &str, json: &str) -> Result<String> {
    let start = svg.find("<svg").context("not an SVG")?;
    let end = svg[start..].find('>').map(|e| start + e).context("the SVG's root element is not closed")?;
    let (open, self_closing) = match svg[start..end].strip_suffix('/') {
        Some(open) => (open.to_owned(), true),
        None => (svg[start..end].to_owned(), false),
    };
    let escape = |t: &str| t.replace('&', "&amp;").replace('"', "&quot;").replace('<', "&lt;").replace('>', "&gt;");
    // CDATA ends at the first `]]>`: split it there so any text survives.
    let cdata = json.replace("]]>", "]]]]><![CDATA[>");
    let element =
        format!("<openbadges:assertion verify=\"{}\"><![CDATA[{cdata}]]></openbadges:assertion>", escape(verify));
    let declared =
        if open.contains("xmlns:openbadges=") { open } else { format!("{open} xmlns:openbadges=\"{SVG_NAMESPACE}\"") };
    Ok(if self_closing {
        format!("{}{declared}>{element}</svg>{}", &svg[..start], &svg[end + 1..])
    } else {
        format!("{}{declared}>{element}{}", &svg[..start], &svg[end + 1..])
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SVG: &str = "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 256 256\" width=\"256\" height=\"256\"><circle cx=\"128\" cy=\"128\" r=\"120\" fill=\"#1d4ed8\"/><text x=\"128\" y=\"140\" font-family=\"sans-serif\" font-weight=\"bold\" font-size=\"40\" text-anchor=\"middle\" fill=\"#ffffff\">Star</text></svg>";

    #[test]
    fn a_badge_is_drawn_with_its_name_in_the_shipped_font() {
        let png = png(SVG).unwrap();
        assert!(png.starts_with(PNG_SIGNATURE));
        let kinds: Vec<[u8; 4]> = chunks(&png).unwrap().into_iter().map(|(k, _)| k).collect();
        assert_eq!(kinds.first(), Some(b"IHDR"));
        assert_eq!(kinds.last(), Some(b"IEND"));
        // The text is drawn: the same disc without it is a different picture.
        let plain = super::png(&SVG.replace(">Star<", "><")).unwrap();
        assert_ne!(png, plain, "the name is drawn (a font was found)");
    }

    #[test]
    fn a_baked_png_carries_the_text_once_and_stays_a_valid_png() {
        let png = png(SVG).unwrap();
        let once = bake_png(&png, "openbadges", "{\"id\":\"https://x/1\"}").unwrap();
        let twice = bake_png(&once, "openbadges", "{\"id\":\"https://x/2\"}").unwrap();
        assert_eq!(png_text(&once, "openbadges").as_deref(), Some("{\"id\":\"https://x/1\"}"));
        assert_eq!(png_text(&twice, "openbadges").as_deref(), Some("{\"id\":\"https://x/2\"}"));
        let itxt = chunks(&twice).unwrap().into_iter().filter(|(k, _)| k == b"iTXt").count();
        assert_eq!(itxt, 1, "baking again replaces the chunk");
        // Every chunk's checksum is right.
        let mut rest = &twice[8..];
        while !rest.is_empty() {
            let len = u32::from_be_bytes(rest[..4].try_into().unwrap()) as usize;
            let crc = crc32fast::hash(&rest[4..8 + len]);
            assert_eq!(crc.to_be_bytes(), rest[8 + len..12 + len]);
            rest = &rest[12 + len..];
        }
        assert!(bake_png(b"GIF89a", "openbadges", "x").is_err());
    }

    #[test]
    fn a_baked_svg_declares_the_namespace_and_keeps_any_text_whole() {
        let baked = bake_svg(SVG, "https://x/assertions/1", "{\"narrative\":\"a ]]> b & <c>\"}").unwrap();
        assert!(baked.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
        assert!(baked.contains("xmlns:openbadges=\"http://openbadges.org\">"));
        assert!(baked.contains("<openbadges:assertion verify=\"https://x/assertions/1\"><![CDATA[{\"narrative\":\"a ]]]]><![CDATA[> b & <c>\"}]]></openbadges:assertion><circle"));
        // Still an SVG that draws.
        assert!(png(&baked).is_ok());
    }
}
