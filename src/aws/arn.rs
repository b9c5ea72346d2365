//! ARNs and host names that depend on where the account lives. The partition (`aws`,
//! `aws-cn`, `aws-us-gov`, ...) and the DNS suffix follow from the region, so nothing here
//! assumes `arn:aws:` or `amazonaws.com`.

/// The partition a region belongs to, as the first field of its ARNs.
pub fn partition(region: &str) -> &'static str {
    // Longest prefixes first: `us-isob-` also starts with `us-iso`.
    const PREFIXES: [(&str, &str); 6] = [
        ("cn-", "aws-cn"),
        ("us-gov-", "aws-us-gov"),
        ("us-isob-", "aws-iso-b"),
        ("us-isof-", "aws-iso-f"),
        ("eu-isoe-", "aws-iso-e"),
        ("us-iso-", "aws-iso"),
    ];
    PREFIXES
        .iter()
        .find(|(prefix, _)| region.starts_with(prefix))
        .map_or("aws", |(_, p)| p)
}

/// The domain public endpoints of `region` live under (`execute-api.<region>.<suffix>`).
/// Every domain AWS serves its APIs under, in any partition: an endpoint there is real AWS.
pub const AWS_DOMAINS: &[&str] = &[
    "amazonaws.com",
    "amazonaws.com.cn",
    "c2s.ic.gov",
    "sc2s.sgov.gov",
    "cloud.adc-e.uk",
    "csp.hci.ic.gov",
    "api.aws",
    "aws.dev",
];

pub fn dns_suffix(region: &str) -> &'static str {
    match partition(region) {
        "aws-cn" => "amazonaws.com.cn",
        "aws-iso" => "c2s.ic.gov",
        "aws-iso-b" => "sc2s.sgov.gov",
        "aws-iso-e" => "cloud.adc-e.uk",
        "aws-iso-f" => "csp.hci.ic.gov",
        _ => "amazonaws.com",
    }
}

/// `arn:<partition>:<service>:<region>:<account>:<resource>`; IAM and S3 leave region
/// (and S3 the account) empty, as AWS writes them.
pub fn arn(region: &str, service: &str, account: &str, resource: &str) -> String {
    let (region_field, account_field) = match service {
        "iam" => ("", account),
        "s3" => ("", ""),
        _ => (region, account),
    };
    format!(
        "arn:{}:{service}:{region_field}:{account_field}:{resource}",
        partition(region)
    )
}

/// The URL real AWS serves a REST API's stage at.
pub fn execute_api_url(api_id: &str, region: &str, stage: &str) -> String {
    format!(
        "https://{api_id}.execute-api.{region}.{}/{stage}",
        dns_suffix(region)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_partition_follows_the_region() {
        assert_eq!(partition("us-east-1"), "aws");
        assert_eq!(partition("eu-central-2"), "aws");
        assert_eq!(partition("cn-north-1"), "aws-cn");
        assert_eq!(partition("cn-northwest-1"), "aws-cn");
        assert_eq!(partition("us-gov-west-1"), "aws-us-gov");
        assert_eq!(partition("us-iso-east-1"), "aws-iso");
        assert_eq!(partition("us-isob-east-1"), "aws-iso-b");
        // Not fooled by look-alikes: only the prefix counts.
        assert_eq!(partition("us-east-cn-1"), "aws");
    }

    #[test]
    fn arns_carry_the_partition_and_leave_global_fields_empty() {
        assert_eq!(
            arn("cn-north-1", "sqs", "111122223333", "q"),
            "arn:aws-cn:sqs:cn-north-1:111122223333:q"
        );
        assert_eq!(
            arn("us-gov-west-1", "iam", "111122223333", "role/r"),
            "arn:aws-us-gov:iam::111122223333:role/r"
        );
        assert_eq!(
            arn("eu-west-1", "s3", "111122223333", "b"),
            "arn:aws:s3:::b"
        );
        assert_eq!(
            arn("cn-north-1", "s3", "111122223333", "b"),
            "arn:aws-cn:s3:::b"
        );
    }

    #[test]
    fn invoke_urls_use_the_partitions_domain() {
        assert_eq!(
            execute_api_url("abc123", "eu-west-1", "dev"),
            "https://abc123.execute-api.eu-west-1.amazonaws.com/dev"
        );
        assert_eq!(
            execute_api_url("abc123", "cn-north-1", "dev"),
            "https://abc123.execute-api.cn-north-1.amazonaws.com.cn/dev"
        );
        assert_eq!(
            execute_api_url("abc123", "us-gov-west-1", "prod"),
            "https://abc123.execute-api.us-gov-west-1.amazonaws.com/prod"
        );
    }
}
