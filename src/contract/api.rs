//! Where the contract's requests go: every path of the API, the scopes a
//! token asks for, and ferry's extension headers, each defined once.
//!
//! A path is a [`ContractPath`]: a list of fixed segments and parameters.
//! The client turns it into URL segments ([`ContractPath::segments`]), which
//! it appends to the target's base URL; the reference server registers its
//! route pattern ([`ContractPath::route`]). Both come from the one
//! definition below, so changing a path of the contract is one edit here.
//!
//! | path | requests |
//! |---|---|
//! | [`TOKEN`] | `POST`: the OAuth2 client credentials grant |
//! | [`CONFIGURATION`] | `PUT ?mode=`: an import; `GET`: the export |
//! | [`PASSWORD_VERIFY`] | `POST`: sign a user in (a ferry extension) |

use Segment::{Literal, Param};

/// One segment of a contract path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Segment {
    /// Fixed text, such as `configuration`.
    Literal(&'static str),
    /// A parameter, such as `tid`: `{tid}` in the route pattern, a value in
    /// a URL.
    Param(&'static str),
}

/// A path of the contract with `N` parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContractPath<const N: usize> {
    /// The segments, in order; exactly `N` of them are parameters.
    segments: &'static [Segment],
}

impl<const N: usize> ContractPath<N> {
    /// A path of `segments`. Evaluated at compile time for the constants
    /// below, where a parameter count other than `N` fails the build.
    const fn new(segments: &'static [Segment]) -> Self {
        let mut params = 0;
        let mut i = 0;
        while i < segments.len() {
            if matches!(segments[i], Param(_)) {
                params += 1;
            }
            i += 1;
        }
        assert!(params == N, "a contract path has as many parameters as N");
        ContractPath { segments }
    }

    /// The route pattern the server registers, in axum's syntax
    /// (`/{tid}/system/oauth2/token`).
    pub fn route(&self) -> String {
        let mut route = String::new();
        for segment in self.segments {
            route.push('/');
            match segment {
                Literal(text) => route.push_str(text),
                Param(name) => {
                    route.push('{');
                    route.push_str(name);
                    route.push('}');
                }
            }
        }
        route
    }

    /// The path's segments with `params` (in the order the parameters
    /// appear) in place of the parameters, unescaped: the client appends
    /// them to the base URL, which escapes each.
    pub fn segments<'a>(&self, params: [&'a str; N]) -> Vec<&'a str> {
        let mut params = params.into_iter();
        self.segments
            .iter()
            .map(|segment| match segment {
                Literal(text) => *text,
                Param(_) => params.next().unwrap_or_default(),
            })
            .collect()
    }

    /// The path with `params`, each percent-encoded as one segment
    /// (`/demo/system/oauth2/token`): for requests built without a base
    /// URL, such as a router's tests.
    pub fn path(&self, params: [&str; N]) -> String {
        let mut path = String::new();
        for segment in self.segments(params) {
            path.push('/');
            // Form encoding escapes all but `*-._` and ASCII alphanumerics,
            // a space as `+`, which a path takes literally; `+` itself comes
            // out as `%2B`, so `%20` can stand for the spaces.
            let encoded: String =
                url::form_urlencoded::byte_serialize(segment.as_bytes()).collect();
            path.push_str(&encoded.replace('+', "%20"));
        }
        path
    }
}

/// `POST {base}/{tid}/system/oauth2/token`: the OAuth2 token endpoint of
/// tenant `tid` (client credentials grant).
pub const TOKEN: ContractPath<1> = ContractPath::new(&[
    Param("tid"),
    Literal("system"),
    Literal("oauth2"),
    Literal("token"),
]);

/// `{base}/api/identity/system/{tid}/configuration`: `PUT` imports into
/// tenant `tid`, `GET` exports it.
pub const CONFIGURATION: ContractPath<1> = ContractPath::new(&[
    Literal("api"),
    Literal("identity"),
    Literal("system"),
    Param("tid"),
    Literal("configuration"),
]);

/// `POST {base}/api/identity/{tid}/pools/{pool}/password/verify`: ferry's
/// extension that signs a user of pool `pool` in with a password.
pub const PASSWORD_VERIFY: ContractPath<2> = ContractPath::new(&[
    Literal("api"),
    Literal("identity"),
    Param("tid"),
    Literal("pools"),
    Param("pool"),
    Literal("password"),
    Literal("verify"),
]);

/// Scope needed for `PUT`/`PATCH` of the configuration.
pub const SCOPE_MANAGE: &str = "manage_configuration";
/// Scope needed for `GET` of the configuration (`manage_configuration` also works).
pub const SCOPE_READ: &str = "read_configuration";

/// Response header of a successful import (a ferry extension): how many
/// users of the request were already stored (kept as stored under `ignore`,
/// overwritten under `update`).
pub const USERS_EXISTING_HEADER: &str = "ferry-users-existing";
/// Response header of a successful import (a ferry extension): how many of
/// the users already stored had a stored entry (the user with its
/// credentials, identifiers and addresses) that differed from the request's,
/// the records' `created_at`, `updated_at` and `status_updated_at` aside.
/// The others were stored exactly as the request has them.
pub const USERS_CHANGED_HEADER: &str = "ferry-users-changed";
/// Response header of a paged export (a ferry extension): the `after` value
/// of the next page, present when this page is full.
pub const NEXT_AFTER_HEADER: &str = "ferry-next-after";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_paths_are_those_of_the_spec() {
        assert_eq!(TOKEN.route(), "/{tid}/system/oauth2/token");
        assert_eq!(
            CONFIGURATION.route(),
            "/api/identity/system/{tid}/configuration"
        );
        assert_eq!(
            PASSWORD_VERIFY.route(),
            "/api/identity/{tid}/pools/{pool}/password/verify"
        );
    }

    #[test]
    fn parameters_take_their_places_in_order() {
        assert_eq!(
            PASSWORD_VERIFY.segments(["t", "p"]),
            ["api", "identity", "t", "pools", "p", "password", "verify"]
        );
        assert_eq!(
            PASSWORD_VERIFY.path(["t", "p"]),
            "/api/identity/t/pools/p/password/verify"
        );
    }

    #[test]
    fn paths_escape_each_parameter_as_one_segment() {
        assert_eq!(
            CONFIGURATION.path(["a/b c+d"]),
            "/api/identity/system/a%2Fb%20c%2Bd/configuration"
        );
        assert_eq!(TOKEN.path(["demo"]), "/demo/system/oauth2/token");
    }
}
