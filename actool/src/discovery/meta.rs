//! The discovery meta tags of an HTML page.

use scraper::{Html, Selector};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetaTag {
    /// `ac-discovery` or `ac-discovery-pubkeys` (matched case-sensitively).
    pub name: String,
    /// The name prefix the tag applies to.
    pub prefix: String,
    /// A URL template (`ac-discovery`) or a key URL (`-pubkeys`).
    pub uri: String,
}

/// Every well-formed discovery tag in the page, in document order. A tag
/// whose content is not exactly `PREFIX URL` is ignored.
pub fn discovery_tags(html: &str) -> Vec<MetaTag> {
    let doc = Html::parse_document(html);
    let selector = Selector::parse("meta").expect("a valid selector");
    doc.select(&selector)
        .filter_map(|el| {
            let name = el.value().attr("name")?;
            if name != "ac-discovery" && name != "ac-discovery-pubkeys" {
                return None;
            }
            let fields: Vec<&str> = el.value().attr("content")?.split_whitespace().collect();
            let [prefix, uri] = fields[..] else {
                return None;
            };
            Some(MetaTag {
                name: name.into(),
                prefix: prefix.into(),
                uri: uri.into(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_tags_anywhere_and_ignores_malformed_ones() {
        let html = r#"<html><head>
            <meta name="ac-discovery" content="  example.com   https://x/{name}.{ext} ">
            <meta name="AC-DISCOVERY" content="example.com https://ignored">
            <meta name="ac-discovery" content="example.com">
            </head><body><meta name="ac-discovery-pubkeys" content="example.com https://k"></body></html>"#;
        let tags = discovery_tags(html);
        assert_eq!(tags.len(), 2);
        assert_eq!(tags[0].uri, "https://x/{name}.{ext}");
        assert_eq!(tags[1].name, "ac-discovery-pubkeys");
    }
}
