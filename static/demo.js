/* Demo storefront for shopchat: fills the page from the REST API and wires the customer picker to the widget.
 * Everything from the API is inserted with textContent — the demo follows the same rule as the widget. */
(function () {
  "use strict";

  var CUSTOMER_KEY = "hollybrook:customer";
  var shop = { name: "Hollybrook Gifts", currency: "GBP", currency_symbol: "£" };
  var money = null;

  function $(id) {
    return document.getElementById(id);
  }

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text != null) node.textContent = text;
    return node;
  }

  function getJson(url) {
    return fetch(url, { headers: { Accept: "application/json" } }).then(function (r) {
      if (!r.ok) throw new Error(url + " → HTTP " + r.status);
      return r.json();
    });
  }

  /** Run fn with the widget's API once widget.js has loaded (both scripts are deferred). */
  function withWidget(fn) {
    if (window.ShopChat) fn(window.ShopChat);
    else window.addEventListener("shopchat:ready", function () { fn(window.ShopChat); }, { once: true });
  }

  function formatPrice(value, currency) {
    try {
      money = money || new Intl.NumberFormat("en-GB", { style: "currency", currency: currency || shop.currency });
      return money.format(value);
    } catch (e) {
      return shop.currency_symbol + Number(value).toFixed(2);
    }
  }

  // ---- shop header ---------------------------------------------------------------------------------

  getJson("/api/shop")
    .then(function (data) {
      shop = data;
      money = null;
      $("shop-name").textContent = data.name;
      document.title = data.name + " — shopchat demo storefront";
    })
    .catch(function () {
      /* keep the defaults */
    });

  // ---- products ------------------------------------------------------------------------------------

  var HUES = [262, 199, 152, 24, 340, 45, 280, 186];
  function hue(text) {
    var h = 0;
    for (var i = 0; i < text.length; i++) h = (h * 31 + text.charCodeAt(i)) >>> 0;
    return HUES[h % HUES.length];
  }

  function monogram(name) {
    var words = String(name).split(/\s+/).filter(Boolean);
    return ((words[0] || "?")[0] + (words[1] ? words[1][0] : "")).toUpperCase();
  }

  function productCard(p) {
    var li = el("li", "product");
    var tile = el("div", "product-tile", monogram(p.name));
    tile.style.setProperty("--hue", String(hue(String(p.product_id))));
    tile.setAttribute("aria-hidden", "true");
    var body = el("div", "product-body");
    body.append(
      el("h3", "product-name", p.name),
      el("p", "product-meta", "Bought by " + p.n_customers + " customer" + (p.n_customers === 1 ? "" : "s")),
    );
    var foot = el("div", "product-foot");
    foot.append(el("span", "product-price", formatPrice(p.price, p.currency)));
    var ask = el("button", "btn btn-small", "Ask about it");
    ask.type = "button";
    ask.setAttribute("aria-label", "Ask the assistant about " + p.name);
    ask.addEventListener("click", function () {
      withWidget(function (chat) {
        chat.send("Tell me about the " + p.name + ".");
      });
    });
    foot.append(ask);
    body.append(foot);
    li.append(tile, body);
    return li;
  }

  var searchSeq = 0;
  function loadProducts(q) {
    var mine = ++searchSeq;
    var grid = $("product-grid");
    grid.setAttribute("aria-busy", "true");
    var url = "/api/products?limit=12&q=" + encodeURIComponent(q || "");
    getJson(url)
      .then(function (items) {
        if (mine !== searchSeq) return; // a newer search won
        grid.replaceChildren.apply(grid, items.map(productCard));
        $("products-title").textContent = q ? "Results for “" + q + "”" : "Popular gifts";
        $("products-meta").textContent = items.length ? items.length + " products" : "No products found — try another word.";
      })
      .catch(function () {
        $("products-meta").textContent = "Products could not be loaded.";
      })
      .finally(function () {
        grid.setAttribute("aria-busy", "false");
      });
  }

  var searchTimer = null;
  $("search").addEventListener("input", function (e) {
    clearTimeout(searchTimer);
    var q = e.target.value.trim();
    searchTimer = setTimeout(function () { loadProducts(q); }, 250);
  });
  $("search-form").addEventListener("submit", function (e) {
    e.preventDefault();
    loadProducts($("search").value.trim());
  });
  Array.prototype.forEach.call(document.querySelectorAll("[data-q]"), function (link) {
    link.addEventListener("click", function () {
      $("search").value = link.getAttribute("data-q");
      loadProducts(link.getAttribute("data-q"));
    });
  });

  // ---- customer picker → ShopChat.setCustomer ----------------------------------------------------------

  var picker = $("customer-picker");

  function savedCustomer() {
    try {
      return localStorage.getItem(CUSTOMER_KEY) || "";
    } catch (e) {
      return "";
    }
  }

  function describeCustomer(id) {
    $("customer-note").textContent = id
      ? "Shopping as customer " + id + " — recommendations use their purchase history."
      : "Shopping as a guest.";
  }

  getJson("/api/customers?limit=20")
    .then(function (customers) {
      customers.forEach(function (c) {
        var opt = el("option", null, "Customer " + c.customer_id + " · " + c.n_products + " products bought");
        opt.value = c.customer_id;
        picker.append(opt);
      });
      var saved = savedCustomer();
      if (saved && !customers.some(function (c) { return c.customer_id === saved; })) {
        var opt = el("option", null, "Customer " + saved);
        opt.value = saved;
        picker.append(opt);
      }
      picker.value = saved;
    })
    .catch(function () {
      // Not in demo mode (SHOPCHAT_DEMO_MODE): the server accepts no unsigned customer ids, so shop as a guest.
      picker.disabled = true;
      picker.title = "Customers can only be picked in demo mode";
      picker.value = "";
      describeCustomer("");
      withWidget(function (chat) {
        chat.setCustomer(null);
      });
    });

  var initial = savedCustomer();
  describeCustomer(initial);
  // Same customer as before a reload: setCustomer is a no-op and the conversation continues.
  withWidget(function (chat) {
    chat.setCustomer(initial || null);
  });

  picker.addEventListener("change", function () {
    var id = picker.value;
    try {
      localStorage.setItem(CUSTOMER_KEY, id);
    } catch (e) {
      /* ignore */
    }
    describeCustomer(id);
    // A different shopper: the widget starts a new conversation as that customer.
    withWidget(function (chat) {
      chat.setCustomer(id || null);
    });
  });

  $("ask-assistant").addEventListener("click", function () {
    withWidget(function (chat) {
      chat.open();
    });
  });

  // ---- embed snippet -------------------------------------------------------------------------------------

  $("embed-snippet").textContent =
    '<script src="' + location.origin + '/static/widget.js"\n        data-server="' + location.origin +
    '"\n        data-customer-id="CUSTOMER-ID"\n        defer></script>';

  loadProducts("");
})();
