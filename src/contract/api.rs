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
//! | [`PASSWORD_VERIFY`] | `POST`: check a user's password (`verifyPasswordV2`) |
//! | [`POOLS`] | `GET`: the tenant's pools (`systemListPools`) |
//! | [`POOL`] | `GET`: one pool (`systemGetPool`) |
//! | [`USERS`] | `GET ?after_user_id=&limit=`: a page of a pool's users (`systemListUsers`) |
//! | [`USER`] | `GET`: one user with its sub-records (`systemGetUser`) |
//! | [`USER_BY_KEY`] | `POST`: the user an identifier or address names (`systemGetUserByKey`) |
//! | [`POOL`] | `DELETE`: the pool with everything in it (`systemDeletePool`) |
//! | [`USER`] | `DELETE`: the user with its sub-records and memberships (`systemDeleteUser`) |
//! | [`GROUP`] | `DELETE`: a group with its memberships (`deleteGroup`) |
//! | [`GROUP_MEMBER`] | `DELETE`: one membership (`removeUserFromGroup`) |
//! | [`SCHEMAS`] | `GET`: the tenant's identity schemas (`systemListSchemas`) |
//! | [`SCHEMA`] | `GET`: one identity schema (`systemGetSchema`); `DELETE`: it (`systemDeleteSchema`) |
//!
//! A platform serves these at one of three URL layouts ([`Layout`]); the
//! constants above are those of the default layout, and
//! [`Layout::segments`] gives any endpoint's URL at any layout, so that the
//! client and the server build every URL here and nowhere else.

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
        route_of(self.segments)
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
        path_of(self.segments(params))
    }
}

/// `POST {base}/{tid}/system/oauth2/token`: the OAuth2 token endpoint of
/// tenant `tid` (client credentials grant), at the `guide` and `client`
/// layouts.
pub const TOKEN: ContractPath<1> = ContractPath::new(&[
    Param("tid"),
    Literal("system"),
    Literal("oauth2"),
    Literal("token"),
]);

/// `POST {base}/system/oauth2/token`: the token endpoint on a tenant's vanity
/// domain, where the host names the tenant (the Go client's issuer is then
/// `{base}/{server}`, here the `system` server).
const VANITY_TOKEN: ContractPath<0> =
    ContractPath::new(&[Literal("system"), Literal("oauth2"), Literal("token")]);

/// `{base}/api/identity/system/{tid}/configuration`: `PUT` imports into
/// tenant `tid`, `GET` exports it. The migration guide's layout.
pub const CONFIGURATION: ContractPath<1> = ContractPath::new(&[
    Literal("api"),
    Literal("identity"),
    Literal("system"),
    Param("tid"),
    Literal("configuration"),
]);

/// `{base}/api/identity/{tid}/configuration`: the same, where the official
/// Go client (2025) calls it.
const CLIENT_CONFIGURATION: ContractPath<1> = ContractPath::new(&[
    Literal("api"),
    Literal("identity"),
    Param("tid"),
    Literal("configuration"),
]);

/// `{base}/api/identity/configuration`: the same on a vanity domain.
const VANITY_CONFIGURATION: ContractPath<0> = ContractPath::new(&[
    Literal("api"),
    Literal("identity"),
    Literal("configuration"),
]);

/// `POST {base}/api/identity/{tid}/system/pools/{ipID}/user/password/v2/verify`:
/// the platform's check of a password of a user of pool `ipID`
/// (`verifyPasswordV2`), at the `guide` and `client` layouts.
pub const PASSWORD_VERIFY: ContractPath<2> = ContractPath::new(&[
    Literal("api"),
    Literal("identity"),
    Param("tid"),
    Literal("system"),
    Literal("pools"),
    Param("ipID"),
    Literal("user"),
    Literal("password"),
    Literal("v2"),
    Literal("verify"),
]);

/// `POST {base}/api/identity/system/pools/{ipID}/user/password/v2/verify`:
/// the same on a vanity domain.
const VANITY_PASSWORD_VERIFY: ContractPath<1> = ContractPath::new(&[
    Literal("api"),
    Literal("identity"),
    Literal("system"),
    Literal("pools"),
    Param("ipID"),
    Literal("user"),
    Literal("password"),
    Literal("v2"),
    Literal("verify"),
]);

/// `GET {base}/api/identity/{tid}/system/pools`: the tenant's pools
/// (`systemListPools`), at the `guide` and `client` layouts.
pub const POOLS: ContractPath<1> = ContractPath::new(&[
    Literal("api"),
    Literal("identity"),
    Param("tid"),
    Literal("system"),
    Literal("pools"),
]);

/// `GET {base}/api/identity/{tid}/system/pools/{ipID}`: one pool (`systemGetPool`).
pub const POOL: ContractPath<2> = ContractPath::new(&[
    Literal("api"),
    Literal("identity"),
    Param("tid"),
    Literal("system"),
    Literal("pools"),
    Param("ipID"),
]);

/// `GET {base}/api/identity/{tid}/system/pools/{ipID}/users`: a page of the
/// pool's users in id order (`systemListUsers`).
pub const USERS: ContractPath<2> = ContractPath::new(&[
    Literal("api"),
    Literal("identity"),
    Param("tid"),
    Literal("system"),
    Literal("pools"),
    Param("ipID"),
    Literal("users"),
]);

/// `GET {base}/api/identity/{tid}/system/pools/{ipID}/users/{userID}`: one
/// user with its identifiers, addresses and blurred credentials (`systemGetUser`).
pub const USER: ContractPath<3> = ContractPath::new(&[
    Literal("api"),
    Literal("identity"),
    Param("tid"),
    Literal("system"),
    Literal("pools"),
    Param("ipID"),
    Literal("users"),
    Param("userID"),
]);

/// `POST {base}/api/identity/{tid}/system/pools/{ipID}/users/by_key`: the user
/// an identifier or a verified address names (`systemGetUserByKey`).
pub const USER_BY_KEY: ContractPath<2> = ContractPath::new(&[
    Literal("api"),
    Literal("identity"),
    Param("tid"),
    Literal("system"),
    Literal("pools"),
    Param("ipID"),
    Literal("users"),
    Literal("by_key"),
]);

/// `DELETE {base}/api/identity/{tid}/system/pools/{ipID}/groups/{groupID}`:
/// a group of pool `ipID` (`deleteGroup`).
pub const GROUP: ContractPath<3> = ContractPath::new(&[
    Literal("api"),
    Literal("identity"),
    Param("tid"),
    Literal("system"),
    Literal("pools"),
    Param("ipID"),
    Literal("groups"),
    Param("groupID"),
]);

/// `DELETE {base}/api/identity/{tid}/system/pools/{ipID}/groups/{groupID}/users/{userID}`:
/// user `userID`'s membership of the group (`removeUserFromGroup`).
pub const GROUP_MEMBER: ContractPath<4> = ContractPath::new(&[
    Literal("api"),
    Literal("identity"),
    Param("tid"),
    Literal("system"),
    Literal("pools"),
    Param("ipID"),
    Literal("groups"),
    Param("groupID"),
    Literal("users"),
    Param("userID"),
]);

/// `GET {base}/api/identity/{tid}/system/schemas`: the tenant's identity
/// schemas (`systemListSchemas`).
pub const SCHEMAS: ContractPath<1> = ContractPath::new(&[
    Literal("api"),
    Literal("identity"),
    Param("tid"),
    Literal("system"),
    Literal("schemas"),
]);

/// `GET` / `DELETE {base}/api/identity/{tid}/system/schemas/{schID}`: an identity
/// schema of the tenant (`systemGetSchema`, `systemDeleteSchema`); schemas belong to no pool.
pub const SCHEMA: ContractPath<2> = ContractPath::new(&[
    Literal("api"),
    Literal("identity"),
    Param("tid"),
    Literal("system"),
    Literal("schemas"),
    Param("schID"),
]);

/// The pool and user paths on a vanity domain: the same without `{tid}`.
const VANITY_POOLS: ContractPath<0> = ContractPath::new(&[
    Literal("api"),
    Literal("identity"),
    Literal("system"),
    Literal("pools"),
]);
const VANITY_POOL: ContractPath<1> = ContractPath::new(&[
    Literal("api"),
    Literal("identity"),
    Literal("system"),
    Literal("pools"),
    Param("ipID"),
]);
const VANITY_USERS: ContractPath<1> = ContractPath::new(&[
    Literal("api"),
    Literal("identity"),
    Literal("system"),
    Literal("pools"),
    Param("ipID"),
    Literal("users"),
]);
const VANITY_USER: ContractPath<2> = ContractPath::new(&[
    Literal("api"),
    Literal("identity"),
    Literal("system"),
    Literal("pools"),
    Param("ipID"),
    Literal("users"),
    Param("userID"),
]);
const VANITY_USER_BY_KEY: ContractPath<1> = ContractPath::new(&[
    Literal("api"),
    Literal("identity"),
    Literal("system"),
    Literal("pools"),
    Param("ipID"),
    Literal("users"),
    Literal("by_key"),
]);
const VANITY_GROUP: ContractPath<2> = ContractPath::new(&[
    Literal("api"),
    Literal("identity"),
    Literal("system"),
    Literal("pools"),
    Param("ipID"),
    Literal("groups"),
    Param("groupID"),
]);
const VANITY_GROUP_MEMBER: ContractPath<3> = ContractPath::new(&[
    Literal("api"),
    Literal("identity"),
    Literal("system"),
    Literal("pools"),
    Param("ipID"),
    Literal("groups"),
    Param("groupID"),
    Literal("users"),
    Param("userID"),
]);
const VANITY_SCHEMAS: ContractPath<0> = ContractPath::new(&[
    Literal("api"),
    Literal("identity"),
    Literal("system"),
    Literal("schemas"),
]);
const VANITY_SCHEMA: ContractPath<1> = ContractPath::new(&[
    Literal("api"),
    Literal("identity"),
    Literal("system"),
    Literal("schemas"),
    Param("schID"),
]);

/// Where a platform serves its API: the three URL layouts in use.
///
/// | endpoint | `guide` (default) | `client` | `vanity` |
/// |---|---|---|---|
/// | token | `/{tid}/system/oauth2/token` | same | `/system/oauth2/token` |
/// | configuration | `/api/identity/system/{tid}/configuration` | `/api/identity/{tid}/configuration` | `/api/identity/configuration` |
/// | pools and users | `/api/identity/{tid}/system/pools/{ipID}/…` | same | `/api/identity/system/pools/{ipID}/…` |
/// | schemas | `/api/identity/{tid}/system/schemas/{schID}` | same | `/api/identity/system/schemas/{schID}` |
///
/// The migration guide documents only the configuration path, so `guide`
/// takes the pool and user endpoints from the official Go client: the
/// default layout therefore has the guide's `/configuration` (what ferry has
/// always called, and what the guide tells a user to expect) and the
/// client's pool and user endpoints, as issue #13 asks of the default.
/// `vanity` is for a tenant's own domain, where the host names the tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Layout {
    /// The migration guide's `/api/identity/system/{tid}/configuration`.
    #[default]
    Guide,
    /// The official Go client's `/api/identity/{tid}/…`.
    Client,
    /// A tenant vanity domain: no tenant id in any path.
    Vanity,
}

/// An endpoint of the API, whatever the layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Endpoint {
    /// `POST`: the OAuth2 client credentials grant.
    Token,
    /// `PUT ?mode=`: an import; `GET`: the export.
    Configuration,
    /// `POST`: the platform's password check (`verifyPasswordV2`).
    PasswordVerify,
    /// `GET`: the tenant's pools (`systemListPools`).
    Pools,
    /// `GET`: one pool (`systemGetPool`); `DELETE`: the pool with its users
    /// and groups (`systemDeletePool`).
    Pool,
    /// `GET`: a page of a pool's users (`systemListUsers`).
    Users,
    /// `GET`: one user with its sub-records (`systemGetUser`); `DELETE`:
    /// the user with them (`systemDeleteUser`).
    User,
    /// `POST`: the user a key names (`systemGetUserByKey`).
    UserByKey,
    /// `DELETE`: a group of a pool with its memberships (`deleteGroup`).
    Group,
    /// `DELETE`: one user's membership of a group (`removeUserFromGroup`).
    GroupMember,
    /// `GET`: the tenant's identity schemas (`systemListSchemas`).
    Schemas,
    /// `GET`: an identity schema of the tenant (`systemGetSchema`);
    /// `DELETE`: it (`systemDeleteSchema`).
    Schema,
}

impl Endpoint {
    /// Every endpoint.
    pub const ALL: [Endpoint; 12] = [
        Endpoint::Token,
        Endpoint::Configuration,
        Endpoint::PasswordVerify,
        Endpoint::Pools,
        Endpoint::Pool,
        Endpoint::Users,
        Endpoint::User,
        Endpoint::UserByKey,
        Endpoint::Group,
        Endpoint::GroupMember,
        Endpoint::Schemas,
        Endpoint::Schema,
    ];
}

/// The values of a path's parameters. A path takes the ones it names and
/// ignores the others; build them with the constructor of the path's
/// resource ([`Params::user`], [`Params::group`], ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Params<'a> {
    /// The tenant id (`{tid}`); unused at the `vanity` layout.
    pub tenant: &'a str,
    /// The pool id (`{ipID}`); unused by the token, configuration and
    /// schema paths.
    pub pool: &'a str,
    /// The user id (`{userID}`); used by [`Endpoint::User`] and
    /// [`Endpoint::GroupMember`].
    pub user: &'a str,
    /// The group id (`{groupID}`); used by [`Endpoint::Group`] and
    /// [`Endpoint::GroupMember`].
    pub group: &'a str,
    /// The schema id (`{schID}`); used by [`Endpoint::Schema`].
    pub schema: &'a str,
}

impl<'a> Params<'a> {
    /// The parameters of a tenant-wide path (token, configuration).
    pub fn tenant(tenant: &'a str) -> Self {
        Params {
            tenant,
            pool: "",
            user: "",
            group: "",
            schema: "",
        }
    }

    /// The parameters of a path of pool `pool` of `tenant`.
    pub fn pool(tenant: &'a str, pool: &'a str) -> Self {
        Params {
            pool,
            ..Params::tenant(tenant)
        }
    }

    /// The parameters of the path of user `user` of pool `pool` of `tenant`.
    pub fn user(tenant: &'a str, pool: &'a str, user: &'a str) -> Self {
        Params {
            user,
            ..Params::pool(tenant, pool)
        }
    }

    /// The parameters of the path of group `group` of pool `pool` of `tenant`.
    pub fn group(tenant: &'a str, pool: &'a str, group: &'a str) -> Self {
        Params {
            group,
            ..Params::pool(tenant, pool)
        }
    }

    /// The parameters of the path of user `user`'s membership of group
    /// `group` of pool `pool` of `tenant`.
    pub fn member(tenant: &'a str, pool: &'a str, group: &'a str, user: &'a str) -> Self {
        Params {
            group,
            ..Params::user(tenant, pool, user)
        }
    }

    /// The parameters of the path of schema `schema` of `tenant`.
    pub fn schema(tenant: &'a str, schema: &'a str) -> Self {
        Params {
            schema,
            ..Params::tenant(tenant)
        }
    }

    /// The value of the parameter `name`.
    fn get(&self, name: &str) -> &'a str {
        match name {
            TENANT_PARAM => self.tenant,
            POOL_PARAM => self.pool,
            USER_PARAM => self.user,
            GROUP_PARAM => self.group,
            SCHEMA_PARAM => self.schema,
            _ => "",
        }
    }
}

/// The tenant parameter's name in every path (`{tid}`).
pub const TENANT_PARAM: &str = "tid";
/// The pool parameter's name in every path (`{ipID}`, as the spec names it).
pub const POOL_PARAM: &str = "ipID";
/// The user parameter's name (`{userID}`, as the spec names it).
pub const USER_PARAM: &str = "userID";
/// The group parameter's name (`{groupID}`, as the spec names it).
pub const GROUP_PARAM: &str = "groupID";
/// The schema parameter's name (`{schID}`, as the spec names it).
pub const SCHEMA_PARAM: &str = "schID";

impl Layout {
    /// Every layout.
    pub const ALL: [Layout; 3] = [Layout::Guide, Layout::Client, Layout::Vanity];

    /// The layout's name on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Layout::Guide => "guide",
            Layout::Client => "client",
            Layout::Vanity => "vanity",
        }
    }

    /// The segments of `endpoint` at this layout: the one table of every
    /// URL ferry calls or serves.
    fn template(self, endpoint: Endpoint) -> &'static [Segment] {
        use Endpoint::{
            Configuration, Group, GroupMember, PasswordVerify, Pool, Pools, Schema, Schemas, Token,
            User, UserByKey, Users,
        };
        use Layout::{Client, Guide, Vanity};
        match (self, endpoint) {
            (Guide | Client, Token) => TOKEN.segments,
            (Vanity, Token) => VANITY_TOKEN.segments,
            (Guide, Configuration) => CONFIGURATION.segments,
            (Client, Configuration) => CLIENT_CONFIGURATION.segments,
            (Vanity, Configuration) => VANITY_CONFIGURATION.segments,
            (Guide | Client, PasswordVerify) => PASSWORD_VERIFY.segments,
            (Vanity, PasswordVerify) => VANITY_PASSWORD_VERIFY.segments,
            (Guide | Client, Pools) => POOLS.segments,
            (Vanity, Pools) => VANITY_POOLS.segments,
            (Guide | Client, Pool) => POOL.segments,
            (Vanity, Pool) => VANITY_POOL.segments,
            (Guide | Client, Users) => USERS.segments,
            (Vanity, Users) => VANITY_USERS.segments,
            (Guide | Client, User) => USER.segments,
            (Vanity, User) => VANITY_USER.segments,
            (Guide | Client, UserByKey) => USER_BY_KEY.segments,
            (Vanity, UserByKey) => VANITY_USER_BY_KEY.segments,
            (Guide | Client, Group) => GROUP.segments,
            (Vanity, Group) => VANITY_GROUP.segments,
            (Guide | Client, GroupMember) => GROUP_MEMBER.segments,
            (Vanity, GroupMember) => VANITY_GROUP_MEMBER.segments,
            (Guide | Client, Schemas) => SCHEMAS.segments,
            (Vanity, Schemas) => VANITY_SCHEMAS.segments,
            (Guide | Client, Schema) => SCHEMA.segments,
            (Vanity, Schema) => VANITY_SCHEMA.segments,
        }
    }

    /// The route pattern of `endpoint` at this layout, in axum's syntax.
    pub fn route(self, endpoint: Endpoint) -> String {
        route_of(self.template(endpoint))
    }

    /// The URL segments of `endpoint` at this layout with `params` in
    /// place, unescaped: the client appends them to the base URL.
    pub fn segments<'a>(self, endpoint: Endpoint, params: Params<'a>) -> Vec<&'a str> {
        self.template(endpoint)
            .iter()
            .map(|segment| match segment {
                Literal(text) => *text,
                Param(name) => params.get(name),
            })
            .collect()
    }

    /// The escaped path of `endpoint` at this layout with `params`, for
    /// requests built without a base URL.
    pub fn path(self, endpoint: Endpoint, params: Params<'_>) -> String {
        path_of(self.segments(endpoint, params))
    }
}

impl std::fmt::Display for Layout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Layout {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Layout::ALL
            .into_iter()
            .find(|l| l.as_str() == text)
            .ok_or_else(|| format!("unknown layout {text:?}: guide, client or vanity"))
    }
}

/// The distinct route patterns of `endpoint` over every layout: what the
/// server registers (`guide` and `client` share some).
pub fn routes(endpoint: Endpoint) -> Vec<String> {
    let mut routes: Vec<String> = Vec::new();
    for layout in Layout::ALL {
        let route = layout.route(endpoint);
        if !routes.contains(&route) {
            routes.push(route);
        }
    }
    routes
}

fn route_of(segments: &[Segment]) -> String {
    let mut route = String::new();
    for segment in segments {
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

fn path_of(segments: Vec<&str>) -> String {
    let mut path = String::new();
    for segment in segments {
        path.push('/');
        // Form encoding escapes all but `*-._` and ASCII alphanumerics,
        // a space as `+`, which a path takes literally; `+` itself comes
        // out as `%2B`, so `%20` can stand for the spaces.
        let encoded: String = url::form_urlencoded::byte_serialize(segment.as_bytes()).collect();
        path.push_str(&encoded.replace('+', "%20"));
    }
    path
}

/// Scope needed for the platform's user endpoints, password verification
/// among them.
pub const SCOPE_IDENTITY: &str = "identity";
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
        use Endpoint::{Configuration, PasswordVerify, Token};
        let verify = "/system/pools/{ipID}/user/password/v2/verify";
        let table = [
            (
                Layout::Guide,
                Token,
                "/{tid}/system/oauth2/token".to_owned(),
            ),
            (
                Layout::Client,
                Token,
                "/{tid}/system/oauth2/token".to_owned(),
            ),
            (Layout::Vanity, Token, "/system/oauth2/token".to_owned()),
            (
                Layout::Guide,
                Configuration,
                "/api/identity/system/{tid}/configuration".to_owned(),
            ),
            (
                Layout::Client,
                Configuration,
                "/api/identity/{tid}/configuration".to_owned(),
            ),
            (
                Layout::Vanity,
                Configuration,
                "/api/identity/configuration".to_owned(),
            ),
            (
                Layout::Guide,
                PasswordVerify,
                format!("/api/identity/{{tid}}{verify}"),
            ),
            (
                Layout::Client,
                PasswordVerify,
                format!("/api/identity/{{tid}}{verify}"),
            ),
            (
                Layout::Vanity,
                PasswordVerify,
                format!("/api/identity{verify}"),
            ),
        ];
        for (layout, endpoint, expected) in table {
            assert_eq!(layout.route(endpoint), expected, "{layout} {endpoint:?}");
        }
        assert_eq!(TOKEN.route(), Layout::Guide.route(Token));
        assert_eq!(CONFIGURATION.route(), Layout::Guide.route(Configuration));
        assert_eq!(
            PASSWORD_VERIFY.route(),
            Layout::Client.route(PasswordVerify)
        );
    }

    #[test]
    fn the_pool_and_user_paths_are_those_of_the_spec() {
        use Endpoint::{Group, GroupMember, Pool, Pools, Schema, Schemas, User, UserByKey, Users};
        let table = [
            (Pools, "/system/pools"),
            (Pool, "/system/pools/{ipID}"),
            (Users, "/system/pools/{ipID}/users"),
            (User, "/system/pools/{ipID}/users/{userID}"),
            (UserByKey, "/system/pools/{ipID}/users/by_key"),
            (Group, "/system/pools/{ipID}/groups/{groupID}"),
            (
                GroupMember,
                "/system/pools/{ipID}/groups/{groupID}/users/{userID}",
            ),
            (Schemas, "/system/schemas"),
            (Schema, "/system/schemas/{schID}"),
        ];
        for (endpoint, spec) in table {
            for layout in [Layout::Guide, Layout::Client] {
                assert_eq!(
                    layout.route(endpoint),
                    format!("/api/identity/{{tid}}{spec}"),
                    "{layout} {endpoint:?}"
                );
            }
            assert_eq!(
                Layout::Vanity.route(endpoint),
                format!("/api/identity{spec}"),
                "{endpoint:?}"
            );
        }
        assert_eq!(
            Layout::Client.path(Endpoint::User, Params::user("t", "p", "u/1")),
            "/api/identity/t/system/pools/p/users/u%2F1"
        );
        assert_eq!(
            USER.path(["t", "p", "u"]),
            Layout::Guide.path(User, Params::user("t", "p", "u"))
        );
        assert_eq!(
            Layout::Vanity.path(GroupMember, Params::member("t", "p", "g 1", "u")),
            "/api/identity/system/pools/p/groups/g%201/users/u"
        );
        assert_eq!(
            GROUP.path(["t", "p", "g"]),
            Layout::Client.path(Group, Params::group("t", "p", "g"))
        );
        assert_eq!(
            SCHEMA.path(["t", "s"]),
            Layout::Guide.path(Schema, Params::schema("t", "s"))
        );
    }

    #[test]
    fn the_server_registers_each_distinct_route_once() {
        assert_eq!(routes(Endpoint::Token).len(), 2);
        assert_eq!(routes(Endpoint::Configuration).len(), 3);
        for endpoint in Endpoint::ALL.into_iter().skip(2) {
            assert_eq!(routes(endpoint).len(), 2, "{endpoint:?}");
        }
    }

    #[test]
    fn parameters_take_their_places_by_name() {
        let params = Params::pool("t", "p");
        assert_eq!(
            Layout::Client.segments(Endpoint::PasswordVerify, params),
            ["api", "identity", "t", "system", "pools", "p", "user", "password", "v2", "verify"]
        );
        assert_eq!(
            Layout::Vanity.path(Endpoint::PasswordVerify, params),
            "/api/identity/system/pools/p/user/password/v2/verify"
        );
        assert_eq!(
            PASSWORD_VERIFY.path(["t", "p"]),
            Layout::Guide.path(Endpoint::PasswordVerify, params)
        );
    }

    #[test]
    fn layouts_parse_and_print() {
        for layout in Layout::ALL {
            assert_eq!(layout.to_string().parse::<Layout>(), Ok(layout));
        }
        assert!("Guide".parse::<Layout>().is_err());
        assert_eq!(Layout::default(), Layout::Guide);
    }

    #[test]
    fn paths_escape_each_parameter_as_one_segment() {
        assert_eq!(
            CONFIGURATION.path(["a/b c+d"]),
            "/api/identity/system/a%2Fb%20c%2Bd/configuration"
        );
        assert_eq!(TOKEN.path(["demo"]), "/demo/system/oauth2/token");
        assert_eq!(
            Layout::Client.path(Endpoint::Configuration, Params::tenant("a/b")),
            "/api/identity/a%2Fb/configuration"
        );
    }
}
