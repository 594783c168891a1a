//! Discovery URL templates: `https://example.com/{name}-{version}.{ext}`.

/// Replaces each `{key}` with its value, leaving unknown keys in place.
pub fn substitute(template: &str, vars: &[(&str, &str)]) -> String {
    let mut out = template.to_string();
    for (k, v) in vars {
        out = out.replace(&format!("{{{k}}}"), v);
    }
    out
}

/// Replaces each `{key}` with its value; `None` if a `{...}` is left over.
pub fn render(template: &str, vars: &[(&str, &str)]) -> Option<String> {
    let out = substitute(template, vars);
    let unresolved = out.find('{').is_some_and(|i| out[i..].contains('}'));
    if unresolved { None } else { Some(out) }
}

#[cfg(test)]
mod tests {
    use super::render;

    #[test]
    fn renders_or_refuses() {
        assert_eq!(
            render(
                "https://x/{name}-{version}",
                &[("name", "a/b"), ("version", "1")]
            )
            .unwrap(),
            "https://x/a/b-1"
        );
        assert_eq!(render("https://x/{name}-{os}", &[("name", "a")]), None);
        assert_eq!(
            render("https://x/{name}.bin", &[("name", "a")]).unwrap(),
            "https://x/a.bin"
        );
    }
}
