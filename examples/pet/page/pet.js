// The pet's side panel: reads the thread's state from the host and reacts to `pet_mood` effects.
// Plain JS, no build step. With `auth.mode: bearer`, open the page as /pet/#token=YOUR_TOKEN.
"use strict";

const CHATKIT_JS = "https://cdn.platform.openai.com/deployments/chatkit/chatkit.js";
const API = "/chatkit";
const FACES = { starving: "😫", sleepy: "😴", bored: "😐", content: "🙂", delighted: "😄" };
const token = new URLSearchParams(location.hash.slice(1)).get("token");
const chat = document.getElementById("chat");
let threadId = null;

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

function showStats(stats) {
  for (const name of ["hunger", "energy", "happiness"]) {
    if (stats[name] === undefined) continue;
    document.getElementById(name + "-value").textContent = stats[name] + " / 100";
    document.getElementById(name + "-bar").style.width = stats[name] + "%";
  }
}

function showMood(mood) {
  document.body.dataset.mood = mood;
  document.getElementById("face").textContent = FACES[mood] || FACES.content;
  document.getElementById("mood").textContent = "Feeling " + mood;
}

// The state route answers only the caller's own threads, with the same token as the endpoint.
async function refresh() {
  if (!threadId) return;
  const response = await authorized(API + "/state?thread_id=" + encodeURIComponent(threadId));
  if (!response.ok) {
    say("Could not read the pet's state (HTTP " + response.status + ")", true);
    return;
  }
  const { state } = await response.json();
  document.getElementById("name").textContent = state.name || "Your new pet";
  showStats(state);
  say("Up to date");
}

chat.addEventListener("chatkit.thread.change", (event) => {
  threadId = event.detail.threadId;
  refresh();
});
chat.addEventListener("chatkit.response.end", () => refresh());
chat.addEventListener("chatkit.effect", (event) => {
  const { name, data } = event.detail;
  if (name !== "pet_mood") return;
  showMood(data.mood);
  showStats(data);  // at once, before the state is read again at the end of the response
});

async function start() {
  await customElements.whenDefined("openai-chatkit");
  chat.setOptions({
    api: { url: API, domainKey: "local-dev", fetch: authorized },
    startScreen: { greeting: "A small pet is waiting for you.", prompts: [
      { label: "Feed it", prompt: "Are you hungry? Let me feed you" },
      { label: "Play", prompt: "Let's play ball!" },
      { label: "Name it", prompt: "Can I give you a name?" },
    ] },
  });
  say("Connected");
}

const script = document.createElement("script");
script.src = CHATKIT_JS;
script.onload = () => start().catch((error) => say("ChatKit.js failed to start: " + error, true));
script.onerror = () => say("ChatKit.js could not be loaded from " + CHATKIT_JS, true);
document.head.append(script);
