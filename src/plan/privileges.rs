//! What a role may use, for the OpenAPI description and `OPTIONS` in
//! [`OpenApiMode::FollowPrivileges`](crate::OpenApiMode::FollowPrivileges):
//! the rules that narrow the schema cache's view to a role's grants.
//!
//! The grants come from one statement run as the request's role
//! ([`sql::PRIVILEGES_SQL`](crate::sql::PRIVILEGES_SQL)), so PostgreSQL
//! answers for role membership, `PUBLIC` grants and column privileges.

use std::collections::{HashMap, HashSet};

use serde::Deserialize;

use crate::error::{Error, ErrorKind, codes};
use crate::schema::{Function, Table};

/// The methods a resource answers, as `OPTIONS` lists them in `Allow`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Allow {
    /// GET and HEAD.
    pub(crate) read: bool,
    pub(crate) post: bool,
    pub(crate) put: bool,
    pub(crate) patch: bool,
    pub(crate) delete: bool,
}

impl Allow {
    /// What a table or view allows by its kind alone (PUT needs a primary key).
    pub(crate) fn of_table(t: &Table) -> Self {
        Self {
            read: true,
            post: t.insertable,
            put: t.insertable && t.updatable && !t.primary_key.is_empty(),
            patch: t.updatable,
            delete: t.deletable,
        }
    }

    /// A function: GET and HEAD unless it is volatile.
    pub(crate) fn of_function(volatile: bool) -> Self {
        Self {
            read: !volatile,
            post: true,
            ..Self::default()
        }
    }

    /// The root: its description.
    pub(crate) fn root() -> Self {
        Self {
            read: true,
            ..Self::default()
        }
    }

    /// Narrowed to what `grants` on a relation permit.
    pub(crate) fn granted(self, grants: TableGrants) -> Self {
        Self {
            read: self.read && grants.select,
            post: self.post && grants.insert,
            put: self.put && grants.insert && grants.update,
            patch: self.patch && grants.update,
            delete: self.delete && grants.delete,
        }
    }

    /// The `Allow` header: `OPTIONS` first, in PostgREST's order.
    pub(crate) fn header(self) -> String {
        let mut allow = String::from("OPTIONS");
        for (method, allowed) in [
            (",GET,HEAD", self.read),
            (",POST", self.post),
            (",PUT", self.put),
            (",PATCH", self.patch),
            (",DELETE", self.delete),
        ] {
            if allowed {
                allow.push_str(method);
            }
        }
        allow
    }
}

/// A role's privileges on one relation (any column counts for the column-level ones).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(from = "[bool; 4]")]
pub(crate) struct TableGrants {
    pub(crate) select: bool,
    pub(crate) insert: bool,
    pub(crate) update: bool,
    pub(crate) delete: bool,
}

impl From<[bool; 4]> for TableGrants {
    fn from([select, insert, update, delete]: [bool; 4]) -> Self {
        Self {
            select,
            insert,
            update,
            delete,
        }
    }
}

/// A role's privileges in one schema, as the privilege statement reports them.
#[derive(Clone, Debug, Default, Deserialize)]
pub(crate) struct Privileges {
    relations: HashMap<String, TableGrants>,
    functions: HashSet<String>,
}

impl Privileges {
    /// Reads the privilege statement's JSON.
    pub(crate) fn from_json(raw: &[u8]) -> Result<Self, Error> {
        serde_json::from_slice(raw).map_err(|e| {
            Error::new(ErrorKind::Internal, "Could not read the role's privileges").with_source(e)
        })
    }

    /// The role's grants on `table`, if it holds any privilege there; a
    /// relation it holds none on is not shown to it at all.
    pub(crate) fn table(&self, table: &str) -> Option<TableGrants> {
        self.relations
            .get(table)
            .copied()
            .filter(|g| g.select || g.insert || g.update || g.delete)
    }

    /// Whether the role may execute some function of this name.
    pub(crate) fn function(&self, f: &Function) -> bool {
        self.functions.contains(&f.name)
    }

    /// What `OPTIONS` on a relation answers for this role: its methods, or
    /// 404 (without a hint, which would name other relations) when the role
    /// holds no privilege on it.
    pub(crate) fn allow_table(&self, ns: &str, table: &Table) -> Result<Allow, Error> {
        self.table(&table.name)
            .map(|grants| Allow::of_table(table).granted(grants))
            .ok_or_else(|| super::table_not_found(ns, &table.name))
    }

    /// What `OPTIONS` on a function answers for this role, or 404.
    pub(crate) fn allow_function(
        &self,
        ns: &str,
        name: &str,
        allow: Allow,
    ) -> Result<Allow, Error> {
        match self.functions.contains(name) {
            true => Ok(allow),
            false => Err(Error::pgrst(
                codes::PGRST202,
                format!("Could not find the function {ns}.{name} in the schema cache"),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grants_narrow_what_a_relation_allows() {
        let all = Allow {
            read: true,
            post: true,
            put: true,
            patch: true,
            delete: true,
        };
        assert_eq!(all.header(), "OPTIONS,GET,HEAD,POST,PUT,PATCH,DELETE");
        let read_only = TableGrants::from([true, false, false, false]);
        assert_eq!(all.granted(read_only).header(), "OPTIONS,GET,HEAD");
        let insert_update = TableGrants::from([false, true, true, false]);
        assert_eq!(
            all.granted(insert_update).header(),
            "OPTIONS,POST,PUT,PATCH"
        );
        assert_eq!(Allow::of_function(true).header(), "OPTIONS,POST");
        assert_eq!(Allow::root().header(), "OPTIONS,GET,HEAD");
    }

    #[test]
    fn a_relation_without_any_privilege_is_not_shown() {
        let p = Privileges::from_json(
            br#"{"relations": {"a": [true, false, false, false], "b": [false, false, false, false]}, "functions": ["f"]}"#,
        )
        .unwrap();
        assert!(p.table("a").is_some());
        assert_eq!(p.table("b"), None);
        assert_eq!(p.table("c"), None);
        assert!(Privileges::from_json(b"[]").is_err());
        let err = p
            .allow_function("public", "g", Allow::of_function(false))
            .unwrap_err();
        assert_eq!(err.postgrest_code(), "PGRST202");
        assert_eq!(err.hint(), None);
    }
}
