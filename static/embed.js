/* commentsvc widget: one script tag gives a page its comment section.
 * <script src="https://comments.example.org/embed.js" data-site="blog" async></script>
 * Options (data-*): site, uri, lang, theme (light|dark|auto; unset: the host page's), sort
 * (oldest|newest|top), target (a selector), count-only, fediverse (the page's fediverse post
 * URLs). No cookies, no third-party requests; the tokens that let a reader
 * edit their own comments stay in this browser's localStorage. */
(() => {
  "use strict";
  const P = "csvc-";
  const script = document.currentScript;
  window.commentsvc = window.commentsvc || { counted: false };
  const g = window.commentsvc;
  if (!script) return console.error("[commentsvc] load embed.js with a plain <script> tag");
  const base = script.src.replace(/\/embed\.js([?#].*)?$/, "");
  const opt = script.dataset;
  const site = opt.site;
  const uri = opt.uri || location.pathname;

  /* --- small helpers ----------------------------------------------------------------------- */

  function el(tag, attrs, children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "class")
        node.className = v
          .split(" ")
          .map((c) => P + c)
          .join(" ");
      else if (k === "text") node.textContent = v;
      else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, v === true ? "" : v);
    }
    for (const child of [].concat(children || [])) if (child) node.append(child);
    return node;
  }

  const store = {
    get(key, fallback) {
      try {
        return JSON.parse(localStorage.getItem(P + key)) || fallback;
      } catch {
        return fallback;
      }
    },
    set(key, value) {
      try {
        localStorage.setItem(P + key, JSON.stringify(value));
      } catch {
        /* private mode or full: the widget works on without remembering */
      }
    },
  };

  async function api(method, path, body, headers) {
    const init = { method, headers: Object.assign({}, headers), credentials: "omit" };
    // The sign-in token goes with writes and one's own reads, never with the shared thread reads.
    if (me.token() && !/^\/(comments|counts)\?/.test(path)) init.headers.Authorization = "Bearer " + me.token();
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(base + "/api" + path, init);
    } catch {
      throw Object.assign(new Error("network"), { network: true });
    }
    // 304: what the caller holds (If-None-Match) is current; data stays null.
    const data = response.status === 204 || response.status === 304 ? null : await response.json().catch(() => null);
    if (response.status === 401) me.drop();
    if (!response.ok && response.status !== 304) {
      const error = data?.error || { code: "http_" + response.status, message: "" };
      throw Object.assign(new Error(error.message), {
        status: response.status,
        error,
        retryAfter: response.headers.get("Retry-After"),
      });
    }
    return { data, headers: response.headers };
  }

  /* --- language ------------------------------------------------------------------------------ */

  const EN = {
    comments: { one: "{n} comment", other: "{n} comments" },
    mentions: { one: "{n} mention", other: "{n} mentions" },
    people: { one: "{n} person likes this", other: "{n} people like this" },
    leave: "Leave a comment",
    inReplyTo: "in reply to {name}",
    noLikes: "Be the first to like this",
    likePage: "Like",
    like: "Like",
    reply: "Reply",
    edit: "Edit",
    delete: "Delete",
    save: "Save",
    cancel: "Cancel",
    confirmDelete: "Delete this comment?",
    deleted: "This comment was deleted.",
    more: "Load more comments",
    sort: "Sort",
    oldest: "Oldest first",
    newest: "Newest first",
    top: "Most liked",
    text: "Comment",
    hint: "Markdown works: *italic*, **bold**, [link](https://…), `code`.",
    author: "Name",
    email: "Email (optional, never shown)",
    website: "Website",
    optional: "optional",
    notify: "Email me when someone replies",
    preview: "Preview",
    write: "Write",
    submit: "Post comment",
    submitReply: "Post reply",
    replyingTo: "Replying to {name}",
    anonymous: "Anonymous",
    owner: "Author",
    edited: "edited",
    empty: "No comments yet.",
    pending: "Your comment is awaiting moderation. Only you can see it.",
    published: "Your comment was published.",
    removed: "Your comment was deleted.",
    likedBy: "Liked by",
    boosts: { one: "{n} boost", other: "{n} boosts" },
    favourites: { one: "{n} favourite", other: "{n} favourites" },
    original: "on the fediverse",
    replyFediverse: "Reply on the fediverse",
    yourServer: "Your server, e.g. mastodon.social",
    open: "Open",
    loadError: "Comments could not be loaded.",
    network: "The comment service cannot be reached. Please try again.",
    unavailable: "Comments are not available on this page.",
    // Said by the server-rendered thread (GET /api/comments.html) and the no-JS page (GET /t/SITE).
    noScript: "Comment without JavaScript",
    backToPage: "Back to the page",
    errors: {
      rate_limited: "You are posting too fast. Please wait {n} seconds.",
      duplicate: "You have posted this comment already.",
      edit_window: "The time to edit this comment is over.",
      empty: "Please write something first.",
      too_long: "This is too long.",
      too_large: "This is too long.",
      "invalid:email": "This is not an email address.",
      "invalid:website": "Please give a web address starting with http:// or https://.",
      unauthorized: "Please sign in (again).",
    },
    failed: "That did not work: {msg}",
    signIn: "Sign in with {p}",
    signOut: "Sign out",
    signedIn: "Signed in as",
    verified: "Verified by {p}",
    server: "Your Mastodon server (like mastodon.social)",
    yourSite: "Your website (like example.org)",
    feed: "Comments feed (Atom)",
    mine: "Your comments",
    mineHint: "The email you commented with:",
    send: "Email me a link",
    linkSent: "If you commented with this address, a link to see, download or erase your comments is on its way.",
  };
  let T = EN;
  let lang = "en";
  const LANGS = ["en", "de", "fr", "es", "nl", "it"];

  function pickLang() {
    const wanted = [opt.lang, document.documentElement.lang].concat(navigator.languages || []);
    for (const tag of wanted) {
      const code = (tag || "").toLowerCase().split("-")[0];
      if (LANGS.includes(code)) return code;
    }
    return "en";
  }

  async function loadLang() {
    lang = pickLang();
    if (lang === "en") return;
    g.i18n = g.i18n || {};
    g.i18n[lang] = g.i18n[lang] || fetch(base + "/i18n/" + lang + ".json").then((r) => (r.ok ? r.json() : {}));
    try {
      T = Object.assign({}, EN, await g.i18n[lang]);
    } catch {
      console.warn("[commentsvc] no " + lang + " translation; using English");
    }
  }

  function t(key, vars) {
    let text = T[key] === undefined ? EN[key] : T[key];
    if (typeof text === "object") {
      const form = new Intl.PluralRules(lang).select(vars.n);
      text = text[form] || text.other;
    }
    return String(text).replace(/\{(\w+)\}/g, (_, name) => (vars && name in vars ? vars[name] : ""));
  }

  function stamp(iso) {
    return el("time", { datetime: iso, title: new Date(iso).toLocaleString(lang), text: when(iso) });
  }

  function when(iso) {
    const date = new Date(iso);
    const seconds = (date - Date.now()) / 1000;
    const units = [
      ["year", 31536000],
      ["month", 2592000],
      ["week", 604800],
      ["day", 86400],
      ["hour", 3600],
      ["minute", 60],
    ];
    const format = new Intl.RelativeTimeFormat(lang, { numeric: "auto" });
    for (const [unit, size] of units) {
      if (Math.abs(seconds) >= size) return format.format(Math.round(seconds / size), unit);
    }
    return format.format(0, "second");
  }

  /* --- what this browser remembers -------------------------------------------------------- */

  const own = {
    all: () => store.get("own", {}),
    get(id) {
      const entry = own.all()[id];
      return entry && entry.until > Date.now() ? entry : null;
    },
    put(comment) {
      const all = own.all();
      for (const [id, entry] of Object.entries(all)) if (entry.until < Date.now()) delete all[id];
      all[comment.id] = {
        token: comment.edit_token,
        until: Date.parse(comment.edit_until),
        pending: comment.status === "pending",
        site,
        uri,
      };
      store.set("own", all);
    },
    drop(id) {
      const all = own.all();
      delete all[id];
      store.set("own", all);
    },
  };

  // The signed-in reader of this site, as the sign-in popup handed them over: {token, identity}.
  const me = {
    key: "me:" + site,
    get: () => store.get(me.key, null),
    token: () => me.get()?.token,
    owns: (id) => (g.mine || []).includes(id),
    drop() {
      store.set(me.key, null);
      g.mine = [];
    },
    // Opens the service's sign-in page; its answer comes back by postMessage (no cookie here).
    // A provider's page that sends Cross-Origin-Opener-Policy cuts the popup off from this
    // page: the answer is then asked of the service, with the secret the popup's first page
    // (the service's own) gave this page only, before going to the provider.
    signIn(p, form) {
      const q = new URLSearchParams({ site, origin: location.origin, handoff: "1" });
      if (p.kind === "mastodon" || p.kind === "indieauth") {
        const server = window.prompt(t(p.kind === "mastodon" ? "server" : "yourSite"));
        if (!server) return;
        q.set("server", server);
      }
      // A name of its own for each sign-in: a window another page named so (one that opened
      // this page can) would become the popup, and that page could send it where it likes.
      const name =
        P + "sign-in-" + Array.from(crypto.getRandomValues(new Uint8Array(8)), (b) => b.toString(16)).join("");
      if (g.signingIn) g.signingIn.popup?.close();
      const popup = window.open(
        base + "/auth/" + encodeURIComponent(p.name) + "/start?" + q,
        name,
        "width=520,height=680"
      );
      let handle = null;
      let timer = 0;
      let asking = false;
      const until = Date.now() + 600000;
      const stop = () => {
        clearInterval(timer);
        window.removeEventListener("focus", ask);
      };
      const done = (data) => {
        if (g.signingIn !== attempt) return;
        g.signingIn = null;
        stop();
        if (data.error) return form.showError(data);
        store.set(me.key, { token: data.token, identity: data.identity });
        form.thread.load(false).then(() => form.thread.showOwnPending());
      };
      async function ask() {
        if (g.signingIn !== attempt) return stop(); // a later sign-in took over: this one stops asking
        if (asking) return;
        if (Date.now() > until) return stop(); // given up long ago (the popup was closed): nothing to say
        asking = true;
        try {
          const data = await me.takeHandoff(handle);
          if (data) done(data);
        } catch (error) {
          // Refused: asking again cannot help (a 429 of a proxy in front can, later).
          if (error.status && error.status < 500 && error.status !== 429) done(error);
        } finally {
          asking = false;
        }
      }
      const attempt = {
        popup,
        message(data) {
          done(data);
          if (handle) me.takeHandoff(handle).catch(() => {}); // the service's copy, now unneeded
        },
        handoff(secret) {
          if (handle || g.signingIn !== attempt) return;
          handle = secret;
          timer = setInterval(ask, 2000);
          window.addEventListener("focus", ask);
        },
      };
      if (g.signingIn) g.signingIn.stop?.();
      attempt.stop = stop;
      g.signingIn = attempt;
    },
    takeHandoff: (handle) => api("POST", "/sign-in/handoff", { site, handle }).then((r) => r.data),
  };
  window.addEventListener("message", (e) => {
    const attempt = g.signingIn;
    if (e.origin !== new URL(base).origin || !attempt) return;
    if (e.source !== attempt.popup) return; // only the popup this page opened
    if (e.data?.type === "commentsvc:sign-in") attempt.message(e.data);
    if (e.data?.type === "commentsvc:handoff" && /^[0-9a-f]{64}$/.test(e.data.handle)) {
      attempt.handoff(e.data.handle);
    }
  });

  // A random id per browser: likes count per reader, not per address (households share one).
  function visitor() {
    let id = g.visitor || store.get("visitor");
    if (!/^[\w-]{16,64}$/.test(id || "")) {
      id = Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, "0")).join("");
      store.set("visitor", id);
    }
    // Kept in memory too: without localStorage (private mode) a reader stays one visitor.
    g.visitor = id;
    return id;
  }

  // Likes this browser gave, by key: toggled on the server and remembered here.
  function toggleLiked(key) {
    const liked = store.get("liked", []);
    const on = !liked.includes(key);
    store.set("liked", on ? liked.concat(key) : liked.filter((k) => k !== key));
    return on;
  }

  /* --- the thread ------------------------------------------------------------------------------ */

  // A thread builds its frame once (build), then fills it from the API (load). Extend it through
  // headerLinks() (what sits beside the heading) and the other small methods below.
  class Thread {
    constructor(root) {
      this.root = root;
      this.sort = ["oldest", "newest", "top"].includes(opt.sort) ? opt.sort : "oldest";
      this.next = null;
      this.mentionList = [];
    }

    async start() {
      // Markup from the server (GET /api/comments.html) is taken over, not rendered again.
      const ssr = this.root.querySelector(`.${P}thread[data-ssr]`);
      if (ssr) this.root = ssr;
      const root = this.root;
      root.dataset.theme = opt.theme || root.dataset.theme || hostTheme(root);
      root.classList.add(P + "thread");
      root.setAttribute("aria-busy", "true");
      if (ssr) this.hydrate();
      else this.build();
      // With the page's markup, only whether anything changed since (its ETag): 304, or all.
      await this.load(false, ssr ? root.dataset.etag : null);
      // Markup still current (304): the signed-in reader's own comments are asked apart, and
      // those adopted before they were known get their Edit and Delete.
      if (ssr && !this.fresh && me.token()) {
        await this.loadMine();
        for (const id of g.mine) this.root.querySelector(`.${P}comment[data-id="${id}"]`)?.view?.showActions();
      }
      await this.showOwnPending();
      root.removeAttribute("aria-busy");
    }

    // Take over the server's markup: the same nodes, given their handlers and the form.
    hydrate() {
      const root = this.root;
      const d = root.dataset;
      const $ = (name) => root.querySelector("." + P + name);
      Object.assign(this, {
        status: $("status"),
        title: $("title"),
        list: $("comments"),
        more: $("more"),
        mentions: $("mentions"),
        pageLikes: $("page-likes"),
        likeButton: $("like-page"),
        sortSelect: $("sort"),
        sortLabel: $("sort-label"),
        sort: d.sort || this.sort,
        next: d.next || null,
        count: +d.count,
        mentionCount: +d.mentions,
        likes: +d.likes,
      });
      this.likeButton.addEventListener("click", () => this.likePage());
      this.sortSelect.addEventListener("change", (e) => this.resort(e.target.value));
      this.more.addEventListener("click", () => this.load(true));
      for (const node of root.querySelectorAll(`article.${P}comment`)) CommentView.adopt(this, node);
      root.querySelector("noscript")?.remove();
      // What the JSON answer adds beyond the markup: sign-in and the fediverse posts.
      const extra = JSON.parse(d.extra || "{}");
      this.fedi = extra.fediverse || { posts: [], boosts: 0, favourites: 0 };
      this.fediCounts = el("span", { class: "fediverse-counts" });
      this.pageLikes.after(" ", this.fediCounts);
      this.fediverse = el("div", { class: "fediverse", hidden: true });
      this.form = new Form(this);
      this.form.notifyField.hidden = !("notifications" in d);
      this.form.renderSignIn(extra.sign_in);
      root.append(this.fediverse, this.form.node, this.footer());
      this.mine.hidden = !("notifications" in d);
      root.removeAttribute("data-ssr");
      this.renderCounts();
      this.renderFediverse();
    }

    build() {
      this.status = el("div", { class: "status", role: "status", "aria-live": "polite" });
      this.title = el("h2", { class: "title" });
      this.list = el("ol", { class: "comments" });
      this.more = el("button", {
        type: "button",
        class: "button more",
        "data-action": "more",
        hidden: true,
        text: t("more"),
        onclick: () => this.load(true),
      });
      this.mentions = el("section", { class: "mentions", hidden: true });
      this.form = new Form(this);
      this.fediverse = el("div", { class: "fediverse", hidden: true });
      this.root.replaceChildren(
        this.status,
        el("header", { class: "header" }, [this.title, ...this.headerLinks()]),
        this.list,
        this.more,
        this.mentions,
        this.fediverse,
        this.form.node,
        this.footer()
      );
    }

    // Below the form: the thread's Atom feed, and a reader's way to their own comments (a link
    // mailed to the address they commented with).
    footer() {
      this.mineEmail = el("input", {
        type: "email",
        name: "email",
        class: "input",
        required: true,
        autocomplete: "email",
      });
      this.mineNote = el("p", { class: "notice", role: "status", hidden: true });
      this.mine = el("details", { class: "mine", hidden: true }, [
        el("summary", { text: t("mine") }),
        el("form", { class: "mine-form", novalidate: true, onsubmit: (e) => this.askLink(e) }, [
          el("label", {}, [t("mineHint") + " ", this.mineEmail]),
          el("button", { type: "submit", class: "button", "data-action": "my-comments", text: t("send") }),
          this.mineNote,
        ]),
      ]);
      const feed = base + "/feed.atom?" + new URLSearchParams({ site, uri });
      this.foot = el("footer", { class: "footer" }, [
        el("a", { class: "feed", href: feed, type: "application/atom+xml", text: t("feed") }),
        this.mine,
      ]);
      return this.foot;
    }

    async askLink(e) {
      e.preventDefault();
      let text;
      try {
        await api("POST", "/data-requests", { site, email: this.mineEmail.value });
        text = t("linkSent");
      } catch (error) {
        text = message(error);
      }
      this.mineNote.textContent = text;
      this.mineNote.hidden = false;
    }

    // What the thread's header offers beside its heading: the page's likes and the sort order.
    headerLinks() {
      this.pageLikes = el("span", { class: "page-likes" });
      this.likeButton = el("button", {
        type: "button",
        class: "button like-page",
        "data-action": "like-page",
        "aria-pressed": "false",
        onclick: () => this.likePage(),
      });
      this.sortSelect = el(
        "select",
        { class: "sort", onchange: (e) => this.resort(e.target.value) },
        ["oldest", "newest", "top"].map((s) => el("option", { value: s, text: t(s), selected: s === this.sort }))
      );
      this.sortLabel = el("label", { class: "sort-label" }, [t("sort") + " ", this.sortSelect]);
      this.fediCounts = el("span", { class: "fediverse-counts" });
      return [
        el("div", { class: "page-like" }, [this.likeButton, " ", this.pageLikes, " ", this.fediCounts]),
        this.sortLabel,
      ];
    }

    async load(more, etag) {
      const query = new URLSearchParams({ site, uri, sort: this.sort, limit: "50" });
      for (const post of (opt.fediverse || "").split(/\s+/).filter(Boolean).slice(0, 5))
        query.append("fediverse", post);
      if (more && this.next) query.set("cursor", this.next);
      this.more.disabled = true;
      const { data, headers } = await api(
        "GET",
        "/comments?" + query,
        undefined,
        etag ? { "If-None-Match": etag } : {}
      );
      this.formToken = headers.get("X-Form-Token") || this.formToken;
      this.more.disabled = false;
      if (!data) return;
      this.fresh = true;
      this.count = data.counts.comments;
      this.mentionCount = data.counts.mentions;
      this.likes = data.likes;
      this.fedi = data.fediverse || { posts: [], boosts: 0, favourites: 0 };
      this.next = data.next;
      if (!more) {
        this.list.replaceChildren();
        this.mentionList = [];
      }
      if (!more && me.token()) await this.loadMine();
      for (const comment of data.comments) this.add(comment, this.list, 0);
      this.form.notifyField.hidden = !data.notifications;
      this.form.renderSignIn(data.sign_in);
      this.mine.hidden = !data.notifications;
      this.more.hidden = !data.next;
      this.renderCounts();
      this.renderMentions();
      this.renderFediverse();
    }

    async resort(sort) {
      this.sort = sort;
      await this.load(false);
    }

    renderCounts() {
      // The API's counts: the heading says the comments, the mentions have their own heading.
      const comments = this.count;
      this.title.textContent = comments ? t("comments", { n: comments }) : t("empty");
      this.sortLabel.hidden = comments < 2;
      this.pageLikes.textContent = this.likes ? t("people", { n: this.likes }) : t("noLikes");
      const f = this.fedi || {};
      this.fediCounts.textContent =
        f.boosts || f.favourites ? t("boosts", { n: f.boosts }) + " · " + t("favourites", { n: f.favourites }) : "";
      const liked = store.get("liked", []).includes(site + " " + uri);
      this.likeButton.textContent = "♥ " + t("likePage");
      this.likeButton.setAttribute("aria-pressed", String(liked));
    }

    // "Reply on the fediverse": the post to open (or copy), or the reader's own server to open it on.
    renderFediverse() {
      const post = this.fedi.posts[0];
      this.fediverse.hidden = !post;
      if (!post) return;
      const server = el("input", {
        class: "server",
        name: "server",
        "aria-label": t("yourServer"),
        placeholder: t("yourServer"),
      });
      const open = (e) => {
        e.preventDefault();
        const host = server.value
          .trim()
          .replace(/^https?:\/\//, "")
          .replace(/\/.*$/, "");
        if (/^[a-z0-9.-]+(:\d+)?$/i.test(host))
          window.open(
            "https://" + host + "/authorize_interaction?uri=" + encodeURIComponent(post.url),
            "_blank",
            "noopener"
          );
      };
      this.fediverse.replaceChildren(
        el("a", {
          class: "button",
          "data-action": "reply-fediverse",
          href: safeUrl(post.url),
          target: "_blank",
          rel: "noopener",
          text: t("replyFediverse"),
        }),
        el("form", { class: "server-form", onsubmit: open }, [
          server,
          el("button", { type: "submit", class: "button", text: t("open") }),
        ])
      );
    }

    add(comment, list, depth, first, parent) {
      if (comment.kind !== "comment" && comment.kind !== "fediverse") {
        this.mentionList.push(comment);
        return;
      }
      const view = new CommentView(this, comment, depth, parent);
      const item = el("li", {}, view.node);
      if (first) list.prepend(item);
      else list.append(item);
      for (const reply of comment.replies) this.add(reply, ...this.under(view), false, comment);
      return view;
    }

    // Where replies to a view go: indented to a depth, flat beyond it (each then says whom it
    // answers), so that long conversations stay readable on a phone.
    under(view) {
      return view.depth >= 3 ? [view.node.parentNode.parentNode, 3] : [view.replies, view.depth + 1];
    }

    renderMentions() {
      const isLike = (m) => m.source && m.source.type === "like";
      const likes = this.mentionList.filter(isLike);
      this.mentions.hidden = !this.mentionList.length;
      if (!this.mentionList.length) return;
      this.mentions.replaceChildren(
        el("h3", { class: "mentions-title", text: t("mentions", { n: this.mentionCount }) }),
        el(
          "ul",
          { class: "mention-list" },
          this.mentionList.filter((m) => !isLike(m)).map((m) => this.mentionItem(m))
        ),
        likes.length
          ? el("div", { class: "likers" }, [
              el("span", { class: "meta", text: t("likedBy", { n: likes.length }) + " " }),
              ...likes.map((m) =>
                el("a", { href: safeUrl(m.source.url), rel: "nofollow ugc", title: m.author }, [
                  el("img", { class: "avatar", src: m.avatar, alt: m.author || t("anonymous"), width: 32, height: 32 }),
                ])
              ),
            ])
          : ""
      );
    }

    // One linkback: who, where, an excerpt, and the comments that answer it.
    mentionItem(m) {
      const replies = el("ol", { class: "replies" });
      const item = el("li", { class: "comment linkback", "data-id": m.id, "data-kind": m.kind }, [
        el("header", { class: "meta" }, [
          m.avatar ? el("img", { class: "avatar", src: m.avatar, alt: "", width: 32, height: 32 }) : null,
          el("span", { class: "author", text: m.author || host(m.source.url) }),
          stamp(m.created),
        ]),
        el("a", { href: safeUrl(m.source.url), rel: "nofollow ugc", text: m.source.title || m.source.url }),
        el("p", { class: "excerpt", text: excerpt(m.source.excerpt) }),
        replies,
      ]);
      for (const reply of m.replies || []) this.add(reply, replies, 1, false, m);
      return item;
    }

    // Signed in: which comments here are the reader's (any device), and which of theirs are held.
    async loadMine() {
      try {
        const { data } = await api("GET", "/me?" + new URLSearchParams({ site, uri }));
        g.mine = data.own;
        this.held = data.held.filter((c) => c.uri === uri);
      } catch {
        g.mine = [];
      }
    }

    async showOwnPending() {
      for (const c of this.held || []) {
        if (!this.root.querySelector(`.${P}comment[data-id="${c.id}"]`)) this.add(c, this.list, 0)?.markPending();
      }
      for (const [id, entry] of Object.entries(own.all())) {
        if (!entry.pending || entry.site !== site || entry.uri !== uri) continue;
        if (this.root.querySelector(`.${P}comment[data-id="${id}"]`)) continue;
        try {
          const { data } = await api("GET", "/comments/" + id, undefined, { "X-Edit-Token": entry.token });
          if (data.status === "published") continue;
          const parent = data.parent && this.root.querySelector(`.${P}comment[data-id="${data.parent}"]`);
          const place = parent?.view ? this.under(parent.view) : [this.list, 0];
          this.add(data, ...place, false, parent?.view?.comment)?.markPending();
        } catch (e) {
          if (e.status === 404) own.drop(id);
        }
      }
    }

    async likePage() {
      this.likeButton.disabled = true;
      try {
        const key = site + " " + uri;
        const like = !store.get("liked", []).includes(key);
        const { data } = await api("POST", "/likes", { site, uri, visitor: visitor(), like });
        this.likes = data.likes;
        toggleLiked(key);
        this.renderCounts();
        this.say(t("people", { n: data.likes }));
      } catch (e) {
        this.say(message(e));
      }
      this.likeButton.disabled = false;
    }

    say(text) {
      this.status.textContent = "";
      setTimeout(() => {
        this.status.textContent = text;
      }, 50);
    }
  }

  /* --- one comment --------------------------------------------------------------------------- */

  // A comment renders as authorLine() (who and when), its body, a notice and actionButtons().
  class CommentView {
    constructor(thread, comment, depth, parent) {
      this.thread = thread;
      this.comment = comment;
      this.depth = depth;
      this.parent = parent;
      this.replies = el("ol", { class: "replies" + (depth >= 2 ? " flat" : "") });
      this.body = el("div", { class: "body" });
      this.notice = el("p", { class: "notice", hidden: true });
      this.actions = el("div", { class: "actions" });
      this.node = el("article", {
        class: "comment" + (comment.owner ? " by-owner" : ""),
        "data-id": comment.id,
        "data-kind": comment.kind,
        id: P + "comment-" + comment.id,
      });
      this.node.view = this;
      this.render();
    }

    render() {
      const c = this.comment;
      if (c.status === "deleted") {
        this.node.classList.add(P + "deleted");
        this.body.replaceChildren(el("p", { class: "meta", text: t("deleted") }));
        this.node.replaceChildren(this.body, this.replies);
        return;
      }
      // The only HTML that goes in as HTML: the server sanitised it once, when it was written.
      this.body.innerHTML = c.html;
      this.actions.replaceChildren(...this.actionButtons());
      this.node.replaceChildren(this.authorLine(), this.body, this.notice, this.actions, this.replies);
    }

    // The header: avatar, name (linked to the website), badges, time, and whom it answers.
    authorLine() {
      const c = this.comment;
      const name = c.author || t("anonymous");
      const to = this.depth >= 3 && this.parent;
      return el("header", { class: "meta" }, [
        c.avatar ? el("img", { class: "avatar", src: c.avatar, alt: "", width: 40, height: 40 }) : null,
        c.website
          ? el("a", { class: "author", href: safeUrl(c.website), rel: "nofollow ugc", text: name })
          : el("span", { class: "author", text: name }),
        c.handle ? el("span", { class: "handle", text: c.handle }) : null,
        c.identity
          ? el("span", { class: "verified", title: t("verified", { p: c.identity.provider }), text: "✓" })
          : null,
        c.owner ? el("span", { class: "badge", text: t("owner") }) : null,
        el("a", { class: "permalink", href: "#" + P + "comment-" + c.id }, stamp(c.created)),
        c.kind === "fediverse" && c.source
          ? el("a", {
              class: "original",
              href: safeUrl(c.source.url),
              rel: "nofollow ugc noopener",
              target: "_blank",
              text: t("original"),
            })
          : null,
        c.modified ? el("span", { class: "edited", text: "· " + t("edited") }) : null,
        to
          ? el("a", {
              class: "reply-to",
              href: "#" + P + "comment-" + to.id,
              text: "↪ " + t("inReplyTo", { name: to.author || t("anonymous") }),
            })
          : null,
      ]);
    }

    actionButtons() {
      const c = this.comment;
      const mine = own.get(c.id) || me.owns(c.id);
      const button = (action, attrs) =>
        el("button", Object.assign({ type: "button", class: "link", "data-action": action }, attrs));
      const open = c.status === "published";
      return [
        open &&
          button("like", {
            "aria-pressed": String(store.get("liked", []).includes(c.id)),
            // The heart and the count; the word is the label, so German rows stay on one line.
            "aria-label": t("like"),
            title: t("like"),
            text: "♥" + (c.likes ? " " + c.likes : ""),
            onclick: () => this.like(),
          }),
        open && button("reply", { text: t("reply"), onclick: () => this.reply() }),
        mine && button("edit", { text: t("edit"), onclick: () => this.edit() }),
        mine && button("delete", { text: t("delete"), onclick: () => this.remove() }),
      ].filter(Boolean);
    }

    // A view for a comment the server rendered: its data read back from the markup.
    static adopt(thread, node) {
      const view = Object.create(CommentView.prototype);
      const part = (name) => node.querySelector(`:scope > .${P}${name}, :scope > header .${P}${name}`);
      const author = part("author");
      const time = node.querySelector(":scope > header time");
      const to = part("reply-to");
      let depth = 0;
      for (let n = node.parentNode; n !== thread.root; n = n.parentNode)
        if (n.classList.contains(P + "replies")) depth++;
      const above = to ? thread.root.querySelector(to.getAttribute("href")) : node.parentNode.closest("article");
      const like = node.querySelector(`:scope > .${P}actions [data-action=like]`);
      Object.assign(view, {
        thread,
        node,
        depth: Math.min(depth, 3),
        parent: above?.view?.comment,
        body: part("body"),
        notice: part("notice"),
        actions: part("actions") || el("div", { class: "actions" }),
        replies: part("replies"),
        comment: {
          id: +node.dataset.id,
          kind: node.dataset.kind,
          status: node.classList.contains(P + "deleted") ? "deleted" : "published",
          author: author?.textContent || "",
          website: author?.href || null,
          avatar: part("avatar")?.src || null,
          html: part("body").innerHTML,
          created: time?.dateTime,
          modified: part("edited") ? time?.dateTime : null,
          likes: +(like?.textContent.replace(/\D/g, "") || 0),
          owner: node.classList.contains(P + "by-owner"),
          replies: [],
        },
      });
      node.view = view;
      if (time) time.textContent = when(time.dateTime);
      like?.addEventListener("click", () => view.like());
      like?.setAttribute("aria-pressed", String(store.get("liked", []).includes(view.comment.id)));
      node.querySelector(`:scope > .${P}actions [data-action=reply]`)?.addEventListener("click", () => view.reply());
      // This reader's own comments, inside the edit window: their Edit and Delete come too.
      if (own.get(view.comment.id)) view.showActions();
      return view;
    }

    showActions() {
      this.actions.replaceChildren(...this.actionButtons());
    }

    markPending() {
      this.node.classList.add(P + "pending");
      this.notice.textContent = t("pending");
      this.notice.hidden = false;
    }

    async like() {
      try {
        const like = !store.get("liked", []).includes(this.comment.id);
        const { data } = await api("POST", "/comments/" + this.comment.id + "/like", { visitor: visitor(), like });
        this.comment.likes = data.likes;
        toggleLiked(this.comment.id);
        this.render();
        this.thread.say(t("like") + " " + data.likes);
      } catch (e) {
        this.thread.say(message(e));
      }
    }

    reply() {
      this.thread.form.attach(this);
    }

    async edit() {
      const mine = own.get(this.comment.id) || me.owns(this.comment.id);
      if (this.comment.text === undefined && mine) {
        // After a reload the thread holds only HTML; the author's token fetches their Markdown.
        try {
          const { data } = await api("GET", "/comments/" + this.comment.id, undefined, editHeaders(mine));
          this.comment.text = data.text;
        } catch (e) {
          return this.thread.say(message(e));
        }
      }
      const form = new Form(this.thread, this);
      this.body.replaceChildren(form.node);
      this.actions.replaceChildren();
      form.text.input.focus();
    }

    async remove() {
      const mine = own.get(this.comment.id) || me.owns(this.comment.id);
      if (!mine || !window.confirm(t("confirmDelete"))) return;
      try {
        await api("DELETE", "/comments/" + this.comment.id, undefined, editHeaders(mine));
        own.drop(this.comment.id);
        if (this.replies.children.length) {
          this.comment.status = "deleted";
          this.render();
        } else {
          this.node.parentNode.remove();
        }
        this.thread.count = Math.max(0, this.thread.count - 1);
        this.thread.renderCounts();
        this.thread.say(t("removed"));
      } catch (e) {
        this.thread.say(message(e));
      }
    }
  }

  /* --- the form ------------------------------------------------------------------------------ */

  let formCount = 0;

  // One form for new comments, replies (the thread's form, attached under a comment) and edits
  // (a form of its own in the comment's place, `editing` the CommentView). Who writes is
  // identity(); what is sent is body(); what happens after is posted() or saved().
  class Form {
    constructor(thread, editing) {
      this.thread = thread;
      this.editing = editing || null;
      this.parent = null;
      this.n = ++formCount;
      this.remembered = editing ? {} : store.get("author", {});
      this.submitButton = el("button", {
        type: "submit",
        class: "button primary",
        "data-action": editing ? "save" : null,
        text: t(editing ? "save" : "submit"),
      });
      this.previewButton = el("button", {
        type: "button",
        class: "button",
        "data-action": "preview",
        text: t("preview"),
        onclick: () => this.togglePreview(),
      });
      this.cancelButton = el("button", {
        type: "button",
        class: "button",
        "data-action": "cancel",
        text: t("cancel"),
        hidden: !editing,
        onclick: () => (editing ? editing.render() : this.attach(null)),
      });
      this.replyNote = el("p", { class: "reply-note", hidden: true });
      this.heading = el("h3", { class: "form-title", text: t("leave"), hidden: !!editing });
      // Seen, not only heard: what became of the last post (the live region says it too).
      this.done = el("p", { class: "notice done", hidden: true });
      this.preview = el("div", { class: "preview body", hidden: true });
      this.general = el("p", { class: "error", role: "alert", hidden: true });
      const text = this.field("text", t("text"), editing ? { rows: 4 } : { rows: 5, required: true, hint: t("hint") });
      if (editing) this.text.input.value = editing.comment.text || htmlToText(editing.comment.html);
      this.node = el(
        "form",
        {
          class: editing ? "edit-form" : "form",
          novalidate: true,
          onsubmit: (e) => this.submit(e),
          oninput: () => {
            this.done.hidden = true;
          },
        },
        [
          this.heading,
          this.replyNote,
          text,
          this.preview,
          ...(editing ? [] : this.identity()),
          el("div", { class: "row" }, [this.submitButton, this.previewButton, this.cancelButton]),
          this.general,
          this.done,
        ]
      );
    }

    // A labelled input with its hint and error box; this[name] = { input, error }.
    field(name, label, attrs) {
      const id = P + name + "-" + this.n;
      const input = el(
        name === "text" ? "textarea" : "input",
        Object.assign({ id, name, class: "input", "aria-label": this.editing ? label : null }, attrs, { hint: null })
      );
      if (this.remembered[name]) input.value = this.remembered[name];
      const error = el("p", { class: "error", id: id + "-error", role: "alert", hidden: true });
      input.setAttribute("aria-describedby", error.id + (attrs.hint ? " " + id + "-hint" : ""));
      this[name] = { input, error };
      return el("div", { class: "field field-" + name }, [
        this.editing ? null : el("label", { for: id, text: label }),
        input,
        attrs.hint ? el("p", { class: "hint", id: id + "-hint", text: attrs.hint }) : null,
        error,
      ]);
    }

    // Who writes: name, email and website (remembered here), a trap for bots, and notification.
    identity() {
      const optional = " (" + t("optional") + ")";
      this.notify = el("input", { type: "checkbox", name: "notify", id: P + "notify-" + this.n });
      this.notifyField = el("div", { class: "field field-notify", hidden: true }, [
        this.notify,
        el("label", { for: this.notify.id, text: t("notify") }),
      ]);
      this.signBar = el("div", { class: "sign-in" });
      this.fields = el("div", { class: "row fields" }, [
        this.field("author", t("author") + optional, { autocomplete: "name", maxlength: 100 }),
        this.field("email", t("email"), { type: "email", autocomplete: "email" }),
        this.field("website", t("website") + optional, { type: "url", autocomplete: "url" }),
      ]);
      return [
        this.signBar,
        this.fields,
        // A field people never see; bots that fill in everything give themselves away.
        el("div", { class: "hp", "aria-hidden": "true" }, [
          el(
            "label",
            { text: "Leave this empty" },
            el("input", { name: "homepage", tabindex: "-1", autocomplete: "off" })
          ),
        ]),
        this.notifyField,
      ];
    }

    // Who is signed in (name, mark, sign out), or the site's providers; the fields for those who
    // are not, unless the site takes signed-in readers only.
    renderSignIn(conf) {
      const who = me.get()?.identity;
      const button = (action, text, onclick, provider) =>
        el("button", {
          type: "button",
          class: "button",
          "data-action": action,
          "data-provider": provider,
          text,
          onclick,
        });
      this.fields.hidden = !!who || conf?.anonymous === "off";
      this.signBar.replaceChildren(
        ...(who
          ? [
              t("signedIn") + " ",
              el("a", { class: "author", href: safeUrl(who.url), rel: "nofollow ugc", text: who.name }),
              el("span", { class: "verified", title: t("verified", { p: who.provider }), text: "✓ " }),
              button("sign-out", t("signOut"), () => this.signOut()),
            ]
          : (conf?.providers || []).map((p) =>
              button("sign-in", t("signIn", { p: p.name }), () => me.signIn(p, this), p.name)
            ))
      );
    }

    async signOut() {
      await api("POST", "/sign-out?" + new URLSearchParams({ site })).catch(() => {});
      me.drop();
      await this.thread.load(false);
    }

    attach(view) {
      this.parent = view;
      if (view) view.node.insertBefore(this.node, view.replies);
      else this.thread.root.insertBefore(this.node, this.thread.foot);
      this.replyNote.hidden = this.cancelButton.hidden = !view;
      this.heading.hidden = !!view;
      this.replyNote.textContent = view ? t("replyingTo", { name: view.comment.author || t("anonymous") }) : "";
      this.submitButton.textContent = view ? t("submitReply") : t("submit");
      this.text.input.focus();
    }

    clearErrors() {
      for (const name of ["text", "author", "email", "website"]) {
        if (!this[name]) continue;
        this[name].error.hidden = true;
        this[name].input.removeAttribute("aria-invalid");
      }
      this.general.hidden = true;
    }

    showError(e) {
      const target = e.error && this[e.error.field];
      const box = target?.error ? target.error : this.general;
      box.textContent = message(e);
      box.hidden = false;
      if (target?.input) {
        target.input.setAttribute("aria-invalid", "true");
        target.input.focus();
      }
    }

    write() {
      this.preview.hidden = true;
      this.text.input.hidden = false;
      this.previewButton.textContent = t("preview");
    }

    async togglePreview() {
      if (!this.preview.hidden) return this.write();
      this.clearErrors();
      try {
        const { data } = await api("POST", "/preview", { text: this.text.input.value });
        this.preview.innerHTML = data.html;
        this.preview.hidden = false;
        this.text.input.hidden = true;
        this.previewButton.textContent = t("write");
      } catch (e) {
        this.showError(e);
      }
    }

    // What a new comment sends: the text, who wrote it, and where it goes.
    body() {
      const value = (name) => this[name].input.value.trim();
      return {
        site,
        uri,
        text: this.text.input.value,
        author: value("author"),
        email: value("email"),
        website: value("website"),
        title: document.title,
        parent: this.parent ? this.parent.comment.id : null,
        notify: this.notify.checked,
        homepage: this.node.elements.homepage.value,
        form_token: this.thread.formToken,
      };
    }

    async submit(event) {
      event.preventDefault();
      this.clearErrors();
      if (!this.text.input.value.trim()) return this.showError({ error: { field: "text", code: "empty" } });
      this.submitButton.disabled = true;
      this.node.setAttribute("aria-busy", "true");
      try {
        if (this.editing) await this.saved();
        else await this.posted();
      } catch (e) {
        this.showError(e);
      } finally {
        this.submitButton.disabled = false;
        this.node.removeAttribute("aria-busy");
      }
    }

    async posted() {
      const body = this.body();
      const { data } = await api("POST", "/comments", body);
      store.set("author", { author: body.author, email: body.email, website: body.website });
      own.put(data);
      data.text = body.text;
      const parent = this.parent;
      const thread = this.thread;
      const place = parent ? thread.under(parent) : [thread.list, 0];
      const view = thread.add(data, ...place, thread.sort === "newest" && !parent, parent?.comment);
      const said = t(data.status === "pending" ? "pending" : "published");
      if (data.status === "pending") view.markPending();
      else {
        thread.count += 1;
        thread.renderCounts();
      }
      thread.say(said);
      this.text.input.value = "";
      this.write();
      this.attach(null);
      this.done.textContent = said;
      this.done.hidden = false;
      view.node.scrollIntoView({ block: "nearest" });
    }

    async saved() {
      const view = this.editing;
      const mine = own.get(view.comment.id) || me.owns(view.comment.id);
      if (!mine) throw Object.assign(new Error(""), { error: { code: "edit_window" } });
      const text = this.text.input.value;
      const { data } = await api("PATCH", "/comments/" + view.comment.id, { text }, editHeaders(mine));
      own.put(data);
      data.text = text;
      view.comment = Object.assign(view.comment, data);
      view.render();
      if (data.status === "pending") view.markPending();
      this.thread.say(t("save"));
    }
  }

  /* --- words for errors ------------------------------------------------------------------------ */

  // Keyed on the API's error code (with the field where the words differ), never on its English.
  function message(e) {
    if (e.network) return t("network");
    const error = e.error || {};
    const words = Object.assign({}, EN.errors, T.errors);
    const text = words[error.code + ":" + error.field] || words[error.code];
    if (text) return text.replace("{n}", e.retryAfter || 10);
    return t("failed", { msg: error.message || e.message || "HTTP " + e.status });
  }

  // "[…] excerpt […]", without doubling the markers an imported excerpt carries already.
  function excerpt(text) {
    const mark = "(\\[(…|\\.\\.\\.)\\]|…|\\.\\.\\.)";
    text = (text || "").trim();
    return (new RegExp("^" + mark).test(text) ? "" : "[…] ") + text + (new RegExp(mark + "$").test(text) ? "" : " […]");
  }

  function host(url) {
    try {
      return new URL(url).hostname;
    } catch {
      return "";
    }
  }

  // The author's right to change a comment: its edit token, or (true) being signed in as them.
  function editHeaders(mine) {
    return mine === true ? {} : { "X-Edit-Token": mine.token };
  }

  function safeUrl(url) {
    return /^https?:\/\//i.test(url || "") ? url : null;
  }

  function htmlToText(html) {
    const box = document.createElement("div");
    box.innerHTML = html;
    return box.textContent;
  }

  /* --- counts on index pages ------------------------------------------------------------------- */

  async function fillCounts() {
    if (g.counted) return;
    g.counted = true;
    const links = Array.from(document.querySelectorAll("[data-commentsvc-count]"));
    const groups = {};
    for (const link of links) {
      const key = link.dataset.site || site;
      const path = link.dataset.uri || new URL(link.href || location.href, location.href).pathname;
      groups[key] = groups[key] || [];
      groups[key].push([link, path]);
    }
    for (const [name, items] of Object.entries(groups)) {
      const uris = Array.from(new Set(items.map((item) => item[1])));
      for (let i = 0; i < uris.length; i += 100) {
        const query = new URLSearchParams({ site: name });
        for (const u of uris.slice(i, i + 100)) query.append("uri", u);
        const { data } = await api("GET", "/counts?" + query);
        for (const [link, path] of items) {
          // What the thread's headings say: its comments, and its mentions when it has some.
          const m = data.mentions[path];
          if (path in data.counts)
            link.textContent = t("comments", { n: data.comments[path] }) + (m ? " · " + t("mentions", { n: m }) : "");
        }
      }
    }
  }

  /* --- start ----------------------------------------------------------------------------------- */

  // The host page's theme: the first background colour behind the container, else its
  // color-scheme. A light page on a dark-mode system gets a light widget.
  function hostTheme(node) {
    for (let n = node; n; n = n.parentElement) {
      const [r, green, b, a] = (getComputedStyle(n).backgroundColor.match(/[\d.]+/g) || []).map(Number);
      if (r !== undefined && (a === undefined || a > 0.5))
        return 0.3 * r + 0.59 * green + 0.11 * b < 128 ? "dark" : "light";
    }
    const scheme = getComputedStyle(document.documentElement).colorScheme;
    const dark = /dark/.test(scheme) && (!/light/.test(scheme) || matchMedia("(prefers-color-scheme: dark)").matches);
    return dark ? "dark" : "light";
  }

  function addStylesheet() {
    if (document.getElementById(P + "style")) return;
    const link = el("link", { id: P + "style", rel: "stylesheet", href: base + "/embed.css" });
    // First in <head>, so that the host page's own rules win over ours.
    document.head.prepend(link);
  }

  function findRoot() {
    const wanted = opt.target ? document.querySelector(opt.target) : document.getElementById("comments");
    if (wanted && !wanted.dataset.csvcClaimed) {
      wanted.dataset.csvcClaimed = "1";
      return wanted;
    }
    const root = el("div");
    script.after(root);
    return root;
  }

  // The API answers CORS to the site's own origins only, so a page elsewhere sees a bare network
  // failure; this public check (CORS for all, nothing private) tells the owner what to change.
  async function originRefused() {
    const here = location.origin;
    try {
      const r = await (
        await fetch(base + "/api/origin?site=" + encodeURIComponent(site), { credentials: "omit" })
      ).json();
      if (r.allowed) return false;
      console.error(
        r.exists
          ? `[commentsvc] The site "${site}" does not accept comments from ${here}; add it with: commentsvc site set ${site} --origin ${here} (--origin replaces the list: repeat the current ones, see commentsvc site list)`
          : `[commentsvc] There is no site "${site}"; add it with: commentsvc site add ${site} --url URL --origin ${here}`
      );
      return true;
    } catch {
      return false;
    }
  }

  async function start() {
    if (!site) return console.error("[commentsvc] the script tag needs data-site");
    await loadLang();
    const counting = fillCounts().catch((e) => console.error("[commentsvc] counts:", e));
    if ("countOnly" in opt) return counting;
    addStylesheet();
    const root = findRoot();
    try {
      await new Thread(root).start();
    } catch (e) {
      console.error("[commentsvc] the thread could not be loaded:", e);
      const refused = e.network && (await originRefused());
      root.removeAttribute("aria-busy");
      root.replaceChildren(
        el("p", { class: "notice", text: t(refused ? "unavailable" : e.network ? "network" : "loadError") })
      );
    }
  }

  start().catch((e) => console.error("[commentsvc]", e));
})();
