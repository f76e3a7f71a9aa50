//! Projects: which project a request is for, and whether it may reach it
//! ([`open`]); `PUT` and `GET /v1/projects/{project}`.

use codepool::api::command::{Command, KeyCheck};
use codepool::api::{Access, Matched, RouteId};
use codepool::project::key::Scope;
use codepool::project::NewProject;
use codepool::store::unknown_project;
use codepool::{Error, ErrorKind};
use worker::{Env, Request, Response};

use crate::auth::{unauthorized, Caller};
use crate::http::{json, read_json};
use crate::project::Project;
use crate::registry;

/// The project of a request, once it is known to exist and, for routes that
/// need the `admin` scope, once the caller's key was checked.
///
/// A project that was never created answers `unknown_project` (to a
/// project key: `unauthorized`, since no key of it exists) without any
/// project's store being reached. Routes that need `read` or `tracking`
/// have the key checked by their own store call ([`Project::settle`]);
/// `admin` routes, which may read large bodies and compile templates before
/// their first store call, check it first, with one call.
pub async fn open(env: &Env, m: &Matched, caller: Caller) -> Result<Project, Error> {
    let name = m.param("project");
    let needs = match m.route.access {
        Access::Project(scope) => scope,
        // A project key on an operator route is checked as an admin key,
        // then refused for what it is (below).
        Access::Operator | Access::Public => Scope::Admin,
    };
    let key = match caller {
        Caller::Key(key) => Some(KeyCheck { key, needs }),
        Caller::Public | Caller::Deployment => None,
    };
    // Creating a project is the one thing done to a project not created.
    let creating = m.route.id == RouteId::PutProject && key.is_none();
    if !creating && !registry::exists(env, name).await? {
        return Err(match key {
            Some(_) => unauthorized("the token is wrong for this route"),
            None => unknown_project(),
        });
    }
    let project = Project::new(env, name, key);
    match m.route.access {
        Access::Operator if project.has_key() => {
            project.check_key().await?;
            Err(Error::new(
                ErrorKind::Forbidden,
                "a project key cannot create projects: that needs the operator's ADMIN_TOKEN",
            ))
        }
        Access::Project(Scope::Admin) => {
            project.check_key().await?;
            Ok(project)
        }
        _ => Ok(project),
    }
}

/// `PUT /v1/projects/{project}`: creates the project (201), or answers the
/// one that exists (200).
pub async fn put(mut req: Request, project: &Project) -> Result<Response, Error> {
    let NewProject {} = read_json(&mut req).await?.unwrap_or_default();
    // The project's tables first, then the registry: a registered project
    // always has its tables, and a failure between the two is mended by
    // the same PUT again.
    project.call::<()>(&Command::CreateProject).await?;
    let registered = registry::create(project.env(), project.name()).await?;
    let status = if registered.created { 201 } else { 200 };
    Ok(json(&registered.project)?.with_status(status))
}

/// `GET /v1/projects/{project}`
pub async fn get(project: &Project) -> Result<Response, Error> {
    let info = registry::lookup(project.env(), project.name())
        .await?
        .ok_or_else(unknown_project)?;
    json(&info)
}
