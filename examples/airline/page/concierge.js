// The concierge's side panel: the customer's profile, read from the thread's state on the host,
// re-read and highlighted when a `profile_updated` effect arrives. Plain JS, no build step.
// With `auth.mode: bearer`, open the page as /concierge/#token=YOUR_TOKEN.
"use strict";

const CHATKIT_JS = "https://cdn.platform.openai.com/deployments/chatkit/chatkit.js";
const API = "/chatkit";
const token = new URLSearchParams(location.hash.slice(1)).get("token");
const chat = document.getElementById("chat");
let threadId = null;
let changed = null;  // what the last effect said changed: highlighted on the next render

function authorized(url, init = {}) {
  const headers = new Headers(init.headers || {});
  if (token) headers.set("Authorization", "Bearer " + token);
  return fetch(url, { ...init, headers });
}

function say(text, isError) {
  const line = document.getElementById("status");
  line.textContent = text;
  line.classList.toggle("error", Boolean(isError));
}

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function flightCard(flight) {
  const card = element("div", "flight " + flight.status);
  card.dataset.flight = flight.number;
  card.append(element("span", "seat", flight.seat), element("b", "", flight.number + "  " + flight.origin + " → " + flight.destination),
              element("small", "", flight.date + " at " + flight.departs + (flight.status === "cancelled" ? " · cancelled" : "")));
  const highlighted = changed && ["seat", "cancellation", "rebooking"].includes(changed.change) && changed.flight === flight.number;
  card.classList.toggle("changed", Boolean(highlighted));
  return card;
}

function render(profile) {
  document.getElementById("customer").textContent = profile.customer;
  document.getElementById("tier").textContent = profile.tier;
  document.getElementById("member").textContent = profile.member_id;
  document.getElementById("flights").replaceChildren(...profile.flights.map(flightCard));
  document.getElementById("meal").textContent = profile.meal || "not chosen";
  document.getElementById("bags").textContent = String(profile.bags);
  document.getElementById("meal").classList.toggle("changed", changed?.change === "meal");
  document.getElementById("bags").classList.toggle("changed", changed?.change === "bags");
}

// The state route answers only the caller's own threads, with the same token as the endpoint.
async function refresh() {
  if (!threadId) return;
  const response = await authorized(API + "/state?thread_id=" + encodeURIComponent(threadId));
  if (!response.ok) {
    say("Could not read the profile (HTTP " + response.status + ")", true);
    return;
  }
  render((await response.json()).state);
  say("Profile up to date");
}

chat.addEventListener("chatkit.thread.change", (event) => {
  threadId = event.detail.threadId;
  changed = null;
  refresh();
});
chat.addEventListener("chatkit.response.end", () => refresh());
chat.addEventListener("chatkit.effect", (event) => {
  if (event.detail.name !== "profile_updated") return;
  changed = event.detail.data;
  refresh();
});

async function start() {
  await customElements.whenDefined("openai-chatkit");
  chat.setOptions({
    api: { url: API, domainKey: "local-dev", fetch: authorized, uploadStrategy: { type: "direct", uploadUrl: "/files" } },
    composer: { attachments: { enabled: true, maxCount: 3, accept: { "image/*": [".png", ".jpg", ".jpeg", ".webp"] } } },
    startScreen: { greeting: "Skylark Air concierge: how can I help with your trip?", prompts: [
      { label: "Window seat", prompt: "Can I get a window seat on my flight out?" },
      { label: "Meals", prompt: "What can I eat on the way there?" },
      { label: "Earlier flight", prompt: "Is there an earlier flight?" },
    ] },
  });
  say("Connected");
}

const script = document.createElement("script");
script.src = CHATKIT_JS;
script.onload = () => start().catch((error) => say("ChatKit.js failed to start: " + error, true));
script.onerror = () => say("ChatKit.js could not be loaded from " + CHATKIT_JS, true);
document.head.append(script);
