//! HTML form bodies (`application/x-www-form-urlencoded`), read strictly: invalid
//! percent-encoding or UTF-8 is an error (not silently replaced), a field sent twice where one
//! is expected is an error (`email=a&email=b` is either a bug or an attack), and fields are
//! limited in number and length.

use std::collections::BTreeMap;

/// At most this many fields in one form.
const MAX_FIELDS: usize = 200;
/// At most this many characters in one field (longer fields have their own, lower, limits).
const MAX_FIELD_CHARS: usize = 10_000;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormError {
    #[error("the form was not sent as a form (application/x-www-form-urlencoded)")]
    NotAForm,
    #[error("the form is not valid text (bad %-encoding or not UTF-8)")]
    Encoding,
    #[error("the form has too many fields")]
    TooManyFields,
    #[error("the field '{0}' is too long")]
    TooLong(String),
    #[error("the field '{0}' was sent more than once")]
    Repeated(String),
    #[error("{1}")]
    Field(String, String),
}

/// A parsed form: each name with every value it was sent with, in order.
#[derive(Debug, Clone, Default)]
pub struct Form {
    fields: BTreeMap<String, Vec<String>>,
}

fn decode(raw: &[u8]) -> Result<String, FormError> {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        match raw[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = raw.get(i + 1..i + 3).ok_or(FormError::Encoding)?;
                let text = std::str::from_utf8(hex).map_err(|_| FormError::Encoding)?;
                out.push(u8::from_str_radix(text, 16).map_err(|_| FormError::Encoding)?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).map_err(|_| FormError::Encoding)
}

impl Form {
    /// Parses a body, checking the content type first.
    pub fn parse(content_type: Option<&str>, body: &[u8]) -> Result<Self, FormError> {
        let ct = content_type
            .unwrap_or("")
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        if ct != "application/x-www-form-urlencoded" {
            return Err(FormError::NotAForm);
        }
        Self::parse_body(body)
    }

    /// Parses a request's body with the request's content type.
    pub fn of_request(headers: &axum::http::HeaderMap, body: &[u8]) -> Result<Self, FormError> {
        Self::parse(
            headers
                .get(axum::http::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok()),
            body,
        )
    }

    pub fn parse_body(body: &[u8]) -> Result<Self, FormError> {
        let mut fields: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut count = 0;
        for pair in body.split(|b| *b == b'&').filter(|p| !p.is_empty()) {
            count += 1;
            if count > MAX_FIELDS {
                return Err(FormError::TooManyFields);
            }
            let (k, v) = match pair.iter().position(|b| *b == b'=') {
                Some(at) => (&pair[..at], &pair[at + 1..]),
                None => (pair, &b""[..]),
            };
            let (k, v) = (decode(k)?, decode(v)?);
            if v.chars().count() > MAX_FIELD_CHARS {
                return Err(FormError::TooLong(k));
            }
            fields.entry(k).or_default().push(v);
        }
        Ok(Form { fields })
    }

    /// The one value of `name`, or `None` when absent. Sent twice: an error.
    pub fn optional(&self, name: &str) -> Result<Option<&str>, FormError> {
        match self.fields.get(name).map(Vec::as_slice) {
            None | Some([]) => Ok(None),
            Some([one]) => Ok(Some(one.as_str())),
            Some(_) => Err(FormError::Repeated(name.to_owned())),
        }
    }

    /// The one value of `name`; `label` names the field in the error when it is missing.
    pub fn required(&self, name: &str, label: &str) -> Result<&str, FormError> {
        self.optional(name)?
            .filter(|v| !v.trim().is_empty())
            .ok_or_else(|| FormError::Field(name.to_owned(), format!("{label} is required")))
    }

    /// Every value of a field that may repeat (checkboxes of one name).
    pub fn all(&self, name: &str) -> &[String] {
        self.fields.get(name).map_or(&[], Vec::as_slice)
    }

    /// The fields whose names start with `prefix` (`qty.12.TN-K`), as the rest of the name
    /// and the value; a name sent twice gives its first value.
    pub fn with_prefix<'a>(
        &'a self,
        prefix: &'a str,
    ) -> impl Iterator<Item = (&'a str, &'a str)> + 'a {
        self.fields
            .iter()
            .filter_map(move |(k, v)| Some((k.strip_prefix(prefix)?, v.first()?.as_str())))
    }

    /// Whether a checkbox was ticked.
    pub fn checked(&self, name: &str) -> Result<bool, FormError> {
        Ok(self.optional(name)?.is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CT: Option<&str> = Some("application/x-www-form-urlencoded");

    #[test]
    fn fields_decode_plus_and_percent() {
        let f = Form::parse(CT, b"email=a%40b.example&name=Ada+L%C3%B6we&empty=").unwrap();
        assert_eq!(f.optional("email").unwrap(), Some("a@b.example"));
        assert_eq!(f.optional("name").unwrap(), Some("Ada Löwe"));
        assert_eq!(f.optional("empty").unwrap(), Some(""));
        assert!(f.required("empty", "Empty").is_err());
        assert_eq!(f.optional("missing").unwrap(), None);
    }

    #[test]
    fn a_field_twice_is_refused_where_one_is_expected() {
        let f = Form::parse(CT, b"email=a%40x.example&email=b%40x.example").unwrap();
        assert_eq!(
            f.optional("email"),
            Err(FormError::Repeated("email".into()))
        );
        let f = Form::parse(CT, b"p=a&p=b").unwrap();
        assert_eq!(f.all("p"), ["a", "b"]);
    }

    #[test]
    fn bad_encoding_and_bad_utf8_are_errors_not_replacement_characters() {
        for body in [&b"a=%ff"[..], b"a=%4", b"a=%zz", b"a=\xff\xfe"] {
            assert_eq!(Form::parse(CT, body).unwrap_err(), FormError::Encoding);
        }
    }

    #[test]
    fn only_forms_and_only_so_many_fields() {
        assert_eq!(
            Form::parse(Some("application/json"), b"{}").unwrap_err(),
            FormError::NotAForm
        );
        let many = vec!["a=1"; 201].join("&");
        assert_eq!(
            Form::parse(CT, many.as_bytes()).unwrap_err(),
            FormError::TooManyFields
        );
    }
}
