//! What IAM's two kinds (roles and policies) share: their ownership tag and name rules.

use anyhow::Result;

use crate::model::OWNER_TAG;

pub fn tag(stack: &str) -> Result<aws_sdk_iam::types::Tag> {
    Ok(aws_sdk_iam::types::Tag::builder()
        .key(OWNER_TAG)
        .value(stack)
        .build()?)
}

/// The characters IAM allows in role and policy names.
pub fn name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "+=,.@-_".contains(c)
}
