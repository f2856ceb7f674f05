/* The mobile ticket card's note form, tolerant of a dropped network (a basement, a lift shaft):
 * - what is typed is kept in localStorage (per ticket) as it is typed, so a reload loses nothing;
 * - a note that cannot be sent (offline, or the request fails) stays queued on the page, marked
 *   "not sent", and is sent when the browser is back online or the page is next opened;
 * - photos of a queued note are kept in IndexedDB when the browser allows it, else the page says
 *   that photos need the network and the text alone is queued;
 * - every note carries a key made here (client_key): the server saves a note sent twice only once. */
(function () {
  "use strict";
  var form = document.getElementById("note-form");
  if (!form || !window.fetch || !window.FormData) {
    return; // the plain form still posts
  }
  var ticket = form.getAttribute("data-ticket");
  var draftKey = "crm-mobile-draft:" + ticket;
  var queueKey = "crm-mobile-queue:" + ticket;
  var text = form.querySelector("textarea[name=note]");
  var photos = form.querySelector("input[name=photos]");
  var status = document.getElementById("note-status");
  var list = document.getElementById("note-queue");
  var sending = false;

  function storage(action, key, value) {
    try {
      if (action === "get") {
        return window.localStorage.getItem(key);
      }
      if (action === "set") {
        window.localStorage.setItem(key, value);
      } else {
        window.localStorage.removeItem(key);
      }
    } catch (error) {
      /* private mode or full: the page still works, without keeping drafts */
    }
    return null;
  }

  function newKey() {
    var bytes = new Uint8Array(16);
    if (window.crypto && window.crypto.getRandomValues) {
      window.crypto.getRandomValues(bytes);
    } else {
      for (var i = 0; i < bytes.length; i++) {
        bytes[i] = Math.floor(Math.random() * 256);
      }
    }
    return Array.prototype.map
      .call(bytes, function (b) {
        return ("0" + b.toString(16)).slice(-2);
      })
      .join("");
  }

  function queue() {
    try {
      return JSON.parse(storage("get", queueKey) || "[]");
    } catch (error) {
      return [];
    }
  }

  function saveQueue(items) {
    if (items.length) {
      storage("set", queueKey, JSON.stringify(items));
    } else {
      storage("remove", queueKey);
    }
    show();
  }

  function say(message) {
    status.textContent = message || "";
  }

  function show() {
    list.textContent = "";
    queue().forEach(function (item) {
      var li = document.createElement("li");
      li.className = "portal-card mobile-queued";
      li.setAttribute("data-key", item.key);
      var body = document.createElement("div");
      body.className = "mobile-text";
      body.textContent = item.note;
      var mark = document.createElement("div");
      mark.className = "portal-badge portal-badge-warn";
      mark.textContent = form.getAttribute("data-queued") + (item.photos ? " (" + item.photos + " 📷)" : "");
      li.appendChild(body);
      li.appendChild(mark);
      list.appendChild(li);
    });
  }

  /* photos of queued notes, in IndexedDB (a Blob per photo), keyed by the note's key */
  function database() {
    return new Promise(function (resolve, reject) {
      if (!window.indexedDB) {
        reject(new Error("no IndexedDB"));
        return;
      }
      var request = window.indexedDB.open("crm-mobile-notes", 1);
      request.onupgradeneeded = function () {
        request.result.createObjectStore("photos");
      };
      request.onsuccess = function () {
        resolve(request.result);
      };
      request.onerror = function () {
        reject(request.error);
      };
    });
  }

  function photoStore(mode, work) {
    return database().then(function (db) {
      return new Promise(function (resolve, reject) {
        var tx = db.transaction("photos", mode);
        var result = work(tx.objectStore("photos"));
        tx.oncomplete = function () {
          resolve(result && "result" in result ? result.result : undefined);
        };
        tx.onerror = tx.onabort = function () {
          reject(tx.error);
        };
      });
    });
  }

  function keepPhotos(key, files) {
    var kept = [];
    for (var i = 0; i < files.length; i++) {
      kept.push({ name: files[i].name, type: files[i].type, blob: files[i].slice(0, files[i].size, files[i].type) });
    }
    return photoStore("readwrite", function (store) {
      store.put(kept, key);
    });
  }

  function keptPhotos(key) {
    return photoStore("readonly", function (store) {
      return store.get(key);
    }).catch(function () {
      return [];
    });
  }

  function dropPhotos(key) {
    return photoStore("readwrite", function (store) {
      store.delete(key);
    }).catch(function () {});
  }

  function post(item, files) {
    var data = new FormData();
    data.append("csrf_token", form.querySelector("input[name=csrf_token]").value);
    data.append("client_key", item.key);
    data.append("note", item.note);
    (files || []).forEach(function (file) {
      data.append("photos", file.blob || file, file.name);
    });
    return fetch(form.action, {
      method: "POST",
      body: data,
      credentials: "same-origin",
      headers: { "X-Requested-With": "fetch", Accept: "application/json" },
    }).then(function (response) {
      var type = response.headers.get("Content-Type") || "";
      if (type.indexOf("application/json") === -1) {
        // not our answer (a sign-in page after the session ended): keep the note
        var error = new Error(form.getAttribute("data-sign-in"));
        error.keep = true;
        throw error;
      }
      return response.json().then(function (answer) {
        answer.status = response.status;
        return answer;
      });
    });
  }

  function remove(key) {
    saveQueue(
      queue().filter(function (item) {
        return item.key !== key;
      })
    );
    return dropPhotos(key);
  }

  /* send the queued notes one after the other; stop at the first that cannot go */
  function flush() {
    if (sending || navigator.onLine === false) {
      return Promise.resolve();
    }
    var items = queue();
    if (!items.length) {
      return Promise.resolve();
    }
    sending = true;
    say(form.getAttribute("data-sending"));
    var sent = false;
    var next = function (index) {
      if (index >= items.length) {
        return Promise.resolve();
      }
      var item = items[index];
      return (item.photos ? keptPhotos(item.key) : Promise.resolve([]))
        .then(function (files) {
          return post(item, files || []);
        })
        .then(function (answer) {
          if (answer.ok) {
            sent = true;
            return remove(item.key).then(function () {
              return next(index + 1);
            });
          }
          if (answer.status >= 400 && answer.status < 500) {
            // refused by a rule (the ticket was closed meanwhile …): say why, give the text back
            say(answer.message);
            if (!text.value) {
              text.value = item.note;
              storage("set", draftKey, item.note);
            }
            return remove(item.key).then(function () {
              return next(index + 1);
            });
          }
          throw new Error(answer.message || "");
        });
    };
    return next(0)
      .then(function () {
        sending = false;
        if (sent) {
          window.location.reload(); // the note is on the timeline now
        }
      })
      .catch(function (error) {
        sending = false;
        say(error.keep ? error.message : form.getAttribute("data-queued"));
      });
  }

  function enqueue(item, files) {
    var kept = files.length
      ? keepPhotos(item.key, files).then(
          function () {
            item.photos = files.length;
          },
          function () {
            say(form.getAttribute("data-photos-need-network"));
          }
        )
      : Promise.resolve();
    return kept.then(function () {
      saveQueue(queue().concat([item]));
    });
  }

  text.value = storage("get", draftKey) || text.value;
  text.addEventListener("input", function () {
    if (text.value) {
      storage("set", draftKey, text.value);
    } else {
      storage("remove", draftKey);
    }
  });

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var files = Array.prototype.slice.call((photos && photos.files) || []);
    var item = { key: newKey(), note: text.value, at: Date.now() };
    if (!item.note.trim() && !files.length) {
      text.focus();
      return;
    }
    // the note leaves the form for the queue: from here on it is kept there until the server has it
    enqueue(item, files).then(function () {
      text.value = "";
      storage("remove", draftKey);
      if (photos) {
        photos.value = "";
      }
      if (navigator.onLine === false) {
        say(form.getAttribute("data-queued"));
        return;
      }
      if (files.length && !item.photos) {
        // the photos could not be kept for later: send them now, with the text
        sending = true;
        post(item, files)
          .then(function (answer) {
            sending = false;
            if (answer.ok) {
              return remove(item.key).then(function () {
                window.location.reload();
              });
            }
            say(answer.message);
            return remove(item.key).then(function () {
              text.value = item.note;
            });
          })
          .catch(function () {
            sending = false;
            say(form.getAttribute("data-photos-need-network"));
          });
        return;
      }
      flush();
    });
  });

  window.addEventListener("online", flush);
  show();
  flush();
})();
