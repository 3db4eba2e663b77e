//! A short memory of the sessions that access tokens name, so the check every authenticated
//! request makes — is this session still active, and who is its user — usually costs a map
//! lookup instead of a database round trip.
//!
//! Correctness rests on invalidation, not on the time-to-live: every write this process makes to
//! a user or their sessions forgets that user's entries once it has committed and before it
//! answers, and with PostgreSQL the other processes hear of each such change through the store's
//! change notices. While those notices may be missed (the listening connection is down or does
//! not echo its probes) the cache is off. The time-to-live only bounds what could still slip
//! through: a change made behind Keycard's back in a SQLite file, or a partition in the seconds
//! before the listener notices it.
//!
//! Lifetimes that only grow (a refresh extends the idle deadline) are not announced; a cached
//! session that looks expired is therefore read again before a request is refused.

use crate::accounts::User;
use crate::ids::{SessionId, UserId};
use crate::mfa::MfaStatus;
use crate::sessions::Session;
use crate::social::Identity;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use time::OffsetDateTime;

/// Entries at most. A full cache starts over: cheaper than LRU bookkeeping on every hit, and
/// that many distinct live sessions within one time-to-live means hits were rare anyway.
const CAPACITY: usize = 100_000;

pub struct SessionCache {
    ttl: Duration,
    inner: Mutex<Inner>,
}

struct Inner {
    sessions: HashMap<SessionId, Entry>,
    by_user: HashMap<UserId, Vec<SessionId>>,
    /// Moves on with every invalidation: a lookup that read the database before one may not
    /// store what it read, since that may be exactly what was just invalidated.
    generation: u64,
    /// Off while changes made elsewhere could go unnoticed.
    enabled: bool,
    /// When expired entries were last dropped (they are otherwise only replaced).
    swept: Instant,
}

struct Entry {
    session: Session,
    user: User,
    /// What `GET /v1/me` shows besides the account, once a request needed it; forgotten with
    /// the user, like the rest of the entry.
    extras: Extras,
    fresh_until: Instant,
}

#[derive(Default)]
struct Extras {
    /// The user's linked identities.
    identities: Option<Arc<Vec<Identity>>>,
    /// The user's second factors, as their owner sees them (never consulted to let anyone in:
    /// sign-ins and re-authentication read the database).
    second_factors: Option<MfaStatus>,
}

/// Taken before reading the database on a miss; [`SessionCache::put`] honours it only if nothing
/// was invalidated since.
#[derive(Debug, Clone, Copy)]
pub struct Ticket(u64);

impl SessionCache {
    /// `listening`: whether changes made elsewhere are known to reach this process from the
    /// start (a store only this process writes). A zero `ttl` turns the cache off for good.
    pub fn new(ttl: Duration, listening: bool) -> Self {
        Self {
            ttl,
            inner: Mutex::new(Inner {
                sessions: HashMap::new(),
                by_user: HashMap::new(),
                generation: 0,
                enabled: listening && !ttl.is_zero(),
                swept: Instant::now(),
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave the maps inconsistent in a way that
        // matters more than dropping them: start over.
        self.inner.lock().unwrap_or_else(|poisoned| {
            let mut inner = poisoned.into_inner();
            inner.clear();
            self.inner.clear_poison();
            inner
        })
    }

    /// The user of a remembered session, if `user` holds it and it is active at `now`; `None`
    /// means: read the database (a remembered session that looks expired may have been
    /// extended by a refresh since).
    pub fn get(&self, id: SessionId, user: UserId, now: OffsetDateTime) -> Option<User> {
        self.get_at(id, user, now, Instant::now())
    }

    fn get_at(
        &self,
        id: SessionId,
        user: UserId,
        now: OffsetDateTime,
        at: Instant,
    ) -> Option<User> {
        let inner = self.lock();
        let hit = inner
            .sessions
            .get(&id)
            .filter(|e| {
                inner.enabled
                    && at < e.fresh_until
                    && e.session.user_id == user
                    && e.session.is_active(now)
            })
            .map(|e| e.user.clone());
        let result = if hit.is_some() { "hit" } else { "miss" };
        metrics::counter!("keycard_session_cache_lookups_total", "result" => result).increment(1);
        hit
    }

    pub fn ticket(&self) -> Ticket {
        Ticket(self.lock().generation)
    }

    /// Remembers what the database said about a session, unless something was invalidated since
    /// `ticket` was taken.
    pub fn put(&self, ticket: Ticket, session: Session, user: User) {
        self.put_at(ticket, session, user, Instant::now());
    }

    fn put_at(&self, ticket: Ticket, session: Session, user: User, now: Instant) {
        let mut inner = self.lock();
        let Some(fresh_until) = now.checked_add(self.ttl) else {
            return;
        };
        if !inner.enabled || inner.generation != ticket.0 {
            return;
        }
        if now.duration_since(inner.swept) >= self.ttl {
            inner.sweep(now);
        }
        if inner.sessions.len() >= CAPACITY {
            inner.clear();
        }
        let (id, user_id) = (session.id, session.user_id);
        let entry = Entry {
            session,
            user,
            extras: Extras::default(),
            fresh_until,
        };
        if inner.sessions.insert(id, entry).is_none() {
            inner.by_user.entry(user_id).or_default().push(id);
        }
    }

    fn extra<T>(&self, id: SessionId, user: UserId, pick: impl FnOnce(&Extras) -> T) -> T
    where
        T: Default,
    {
        let inner = self.lock();
        let now = Instant::now();
        inner
            .sessions
            .get(&id)
            .filter(|e| inner.enabled && now < e.fresh_until && e.session.user_id == user)
            .map(|e| pick(&e.extras))
            .unwrap_or_default()
    }

    /// Adds to a remembered session's entry, unless anything was invalidated since `ticket`
    /// was taken.
    fn put_extra(&self, ticket: Ticket, id: SessionId, set: impl FnOnce(&mut Extras)) {
        let mut inner = self.lock();
        if !inner.enabled || inner.generation != ticket.0 {
            return;
        }
        if let Some(e) = inner.sessions.get_mut(&id) {
            set(&mut e.extras);
        }
    }

    /// The identities of the user of a remembered session, if they were remembered too.
    pub fn identities(&self, id: SessionId, user: UserId) -> Option<Arc<Vec<Identity>>> {
        self.extra(id, user, |x| x.identities.clone())
    }

    /// Remembers a user's identities with a remembered session of theirs.
    pub fn put_identities(&self, ticket: Ticket, id: SessionId, identities: Arc<Vec<Identity>>) {
        self.put_extra(ticket, id, |x| x.identities = Some(identities));
    }

    /// The second factors of the user of a remembered session, if they were remembered too.
    pub fn second_factors(&self, id: SessionId, user: UserId) -> Option<MfaStatus> {
        self.extra(id, user, |x| x.second_factors.clone())
    }

    /// Remembers a user's second factors with a remembered session of theirs.
    pub fn put_second_factors(&self, ticket: Ticket, id: SessionId, status: MfaStatus) {
        self.put_extra(ticket, id, |x| x.second_factors = Some(status));
    }

    /// Forgets the user and all their sessions.
    pub fn forget_user(&self, user: UserId) {
        let mut inner = self.lock();
        inner.generation += 1;
        if let Some(ids) = inner.by_user.remove(&user) {
            for id in ids {
                inner.sessions.remove(&id);
            }
        }
    }

    /// Anything may have changed (e.g. a table was emptied): forget everything.
    pub fn forget_all(&self) {
        self.lock().clear();
    }

    /// Changes made elsewhere may go unnoticed from now on: forget everything and stop caching.
    pub fn deafened(&self) {
        let mut inner = self.lock();
        inner.clear();
        inner.enabled = false;
    }

    /// Changes made elsewhere reach this process again. What happened in between is unknown,
    /// so this starts from empty.
    pub fn listening(&self) {
        let mut inner = self.lock();
        inner.clear();
        inner.enabled = !self.ttl.is_zero();
    }

    /// `active`, `paused` (deaf to changes made elsewhere) or `disabled` (zero time-to-live).
    pub fn state(&self) -> &'static str {
        match (self.ttl.is_zero(), self.lock().enabled) {
            (true, _) => "disabled",
            (false, true) => "active",
            (false, false) => "paused",
        }
    }

    pub fn len(&self) -> usize {
        self.lock().sessions.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Inner {
    fn clear(&mut self) {
        self.generation += 1;
        self.sessions.clear();
        self.by_user.clear();
    }

    /// Drops expired entries, so memory follows the sessions used within one time-to-live
    /// rather than growing to the capacity.
    fn sweep(&mut self, now: Instant) {
        self.swept = now;
        self.sessions.retain(|_, e| now < e.fresh_until);
        let sessions = &self.sessions;
        self.by_user.retain(|_, ids| {
            ids.retain(|id| sessions.contains_key(id));
            !ids.is_empty()
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accounts::Email;
    use crate::sessions::SessionKind;

    const TTL: Duration = Duration::from_secs(10);

    fn user() -> User {
        let now = OffsetDateTime::now_utc();
        User {
            id: UserId::new(),
            email: Some(Email::parse("cache@example.com").unwrap()),
            email_verified: false,
            name: None,
            picture_url: None,
            created_at: now,
            updated_at: now,
            disabled_at: None,
        }
    }

    fn session(user: &User) -> Session {
        let now = OffsetDateTime::now_utc();
        Session {
            id: SessionId::new(),
            user_id: user.id,
            kind: SessionKind::Api,
            client_id: None,
            device: "test".into(),
            user_agent: None,
            ip: None,
            created_at: now,
            last_used_at: now,
            idle_expires_at: now + time::Duration::days(1),
            expires_at: now + time::Duration::days(2),
            revoked_at: None,
            amr: vec!["pwd".into()],
            auth_time: now,
            scopes: Vec::new(),
            origin: None,
        }
    }

    fn has(cache: &SessionCache, s: &Session) -> bool {
        cache
            .get(s.id, s.user_id, OffsetDateTime::now_utc())
            .is_some()
    }

    fn cached(cache: &SessionCache, s: &Session, u: &User) {
        let t = cache.ticket();
        cache.put(t, s.clone(), u.clone());
    }

    #[test]
    fn remembers_until_the_ttl() {
        let cache = SessionCache::new(TTL, true);
        let u = user();
        let s = session(&u);
        let t0 = Instant::now();
        cache.put_at(cache.ticket(), s.clone(), u.clone(), t0);
        let now = OffsetDateTime::now_utc();
        let who = cache.get_at(s.id, u.id, now, t0 + TTL / 2).unwrap();
        assert_eq!(who.id, u.id);
        assert!(cache.get_at(s.id, u.id, now, t0 + TTL).is_none());
        assert!(cache.get(SessionId::new(), u.id, now).is_none());
    }

    #[test]
    fn only_an_active_session_of_the_token_user_is_a_hit() {
        let cache = SessionCache::new(TTL, true);
        let u = user();
        let s = session(&u);
        cached(&cache, &s, &u);
        let now = OffsetDateTime::now_utc();
        assert!(
            cache.get(s.id, UserId::new(), now).is_none(),
            "another user's"
        );
        assert!(
            cache.get(s.id, u.id, s.idle_expires_at).is_none(),
            "past its idle deadline: read again, it may have been extended"
        );
        assert!(cache.get(s.id, u.id, now).is_some());
    }

    #[test]
    fn forgetting_a_user_forgets_all_their_sessions_only() {
        let cache = SessionCache::new(TTL, true);
        let (alice, bob) = (user(), user());
        let (a1, a2, b1) = (session(&alice), session(&alice), session(&bob));
        cached(&cache, &a1, &alice);
        cached(&cache, &a2, &alice);
        cached(&cache, &b1, &bob);
        cache.forget_user(alice.id);
        assert!(!has(&cache, &a1));
        assert!(!has(&cache, &a2));
        assert!(has(&cache, &b1));
        assert_eq!(cache.len(), 1);
    }

    #[test]
    fn a_read_that_raced_an_invalidation_is_not_stored() {
        let cache = SessionCache::new(TTL, true);
        let u = user();
        let s = session(&u);
        // A lookup misses and reads the database; meanwhile the session is revoked.
        let ticket = cache.ticket();
        cache.forget_user(u.id);
        cache.put(ticket, s.clone(), u.clone());
        assert!(!has(&cache, &s));
        // Also when the invalidation was about somebody else: the ticket is all-or-nothing.
        let ticket = cache.ticket();
        cache.forget_user(UserId::new());
        cache.put(ticket, s.clone(), u);
        assert!(!has(&cache, &s));
    }

    #[test]
    fn expired_entries_are_swept() {
        let cache = SessionCache::new(TTL, true);
        let u = user();
        let (old, new) = (session(&u), session(&u));
        let t0 = Instant::now();
        cache.put_at(cache.ticket(), old.clone(), u.clone(), t0);
        cache.put_at(cache.ticket(), new.clone(), u.clone(), t0 + TTL * 2);
        assert_eq!(
            cache.len(),
            1,
            "the expired entry went when the next was stored"
        );
        let now = OffsetDateTime::now_utc();
        assert!(cache.get_at(new.id, u.id, now, t0 + TTL * 2).is_some());
        cache.forget_user(u.id);
        assert!(cache.is_empty());
    }

    #[test]
    fn forget_all_forgets_everyone() {
        let cache = SessionCache::new(TTL, true);
        let (a, b) = (user(), user());
        let (sa, sb) = (session(&a), session(&b));
        cached(&cache, &sa, &a);
        let ticket = cache.ticket();
        cached(&cache, &sb, &b);
        cache.forget_all();
        assert!(cache.is_empty());
        cache.put(ticket, sa.clone(), a);
        assert!(!has(&cache, &sa));
        assert_eq!(cache.state(), "active");
    }

    #[test]
    fn nothing_is_cached_while_deaf() {
        let cache = SessionCache::new(TTL, false);
        let u = user();
        let s = session(&u);
        cached(&cache, &s, &u);
        assert!(!has(&cache, &s), "off until listening");
        assert_eq!(cache.state(), "paused");
        cache.listening();
        assert_eq!(cache.state(), "active");
        cached(&cache, &s, &u);
        assert!(has(&cache, &s));
        let ticket = cache.ticket();
        cache.deafened();
        assert!(!has(&cache, &s));
        cache.listening();
        cache.put(ticket, s.clone(), u);
        assert!(!has(&cache, &s), "a read from before the gap");
    }

    #[test]
    fn a_zero_ttl_turns_it_off() {
        let cache = SessionCache::new(Duration::ZERO, true);
        cache.listening();
        let u = user();
        let s = session(&u);
        cached(&cache, &s, &u);
        assert!(!has(&cache, &s));
        assert!(cache.is_empty());
        assert_eq!(cache.state(), "disabled");
    }

    #[test]
    fn a_full_cache_starts_over() {
        let cache = SessionCache::new(TTL, true);
        let u = user();
        let first = session(&u);
        cached(&cache, &first, &u);
        for _ in 1..CAPACITY {
            cached(&cache, &session(&u), &u);
        }
        assert_eq!(cache.len(), CAPACITY);
        let last = session(&u);
        cached(&cache, &last, &u);
        assert_eq!(cache.len(), 1);
        assert!(!has(&cache, &first));
        assert!(has(&cache, &last));
    }
}
