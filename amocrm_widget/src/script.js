/*
 * The connector's amoCRM widget: it frames the app's own pages and shows the manager's
 * "away" switch. It holds no secret and no data: every call goes through
 * self.$authorizedAjax, which adds amoCRM's one-time X-Auth-Token (a JWT naming the account
 * and the user, signed with the integration's secret), and the app answers the address of a
 * page signed for that user.
 *
 * Sources (the widget SDK):
 *  - the object and its callbacks (render, init, bind_actions, settings, advancedSettings,
 *    onSave, destroy): https://developers.kommo.com/docs/script-js
 *  - areas and the right column ("lcard-1"): https://www.amocrm.ru/developers/content/integrations/areas
 *  - the card's right column (render_template): https://www.amocrm.ru/developers/content/web_sdk/card
 *  - $authorizedAjax and X-Auth-Token: https://www.amocrm.ru/developers/content/oauth/disposable-tokens
 * __BACKEND__ is replaced by the app's public address when the archive is built
 * (amocrm_widget/build.py).
 */
define(['jquery'], function ($) {
  'use strict';

  var BACKEND = '__BACKEND__';

  return function () {
    var self = this;

    function text(key) {
      var ui = (self.i18n && self.i18n('ui')) || {};
      return ui[key] || key;
    }

    function lang() {
      var system = (self.system && self.system()) || {};
      var code = String(system.lang || (window.AMOCRM && AMOCRM.lang_id) || 'ru');
      return code.slice(0, 2) === 'en' ? 'en' : 'ru';
    }

    function backend() {
      var settings = (self.get_settings && self.get_settings()) || {};
      return String(settings.backend || BACKEND).replace(/\/+$/, '');
    }

    function area() {
      return ((self.system && self.system()) || {}).area || '';
    }

    function leadId() {
      var card = window.AMOCRM && AMOCRM.data && AMOCRM.data.current_card;
      return card && card.id ? Number(card.id) : 0;
    }

    /* One call to the app with the user's one-time token; a thenable either way. */
    function call(method, path, body) {
      return self.$authorizedAjax({
        url: backend() + path + '?LANG=' + lang(),
        method: method,
        type: method,
        contentType: 'application/json',
        dataType: 'json',
        data: body ? JSON.stringify(body) : undefined
      });
    }

    function failure(err) {
      var body = err && (err.responseJSON || err.body);
      return (body && body.message) || text('failed');
    }

    function frame(url, height) {
      var el = document.createElement('iframe');
      el.src = url;
      el.title = text('frame_title');
      el.className = 'cc-widget__frame';
      el.style.cssText = 'width:100%;border:0;display:block;height:' + height + 'px';
      return el;
    }

    /* Ask the app for a page and put it into `box` (a DOM element). */
    function openPage(box, request, height) {
      box.textContent = text('loading');
      return call('POST', '/amocrm/widget/open', request).then(function (answer) {
        box.textContent = '';
        box.appendChild(frame(answer.url, height));
      }, function (err) {
        box.textContent = failure(err);
      });
    }

    /* The away switch: its state, and a button that turns it. */
    function showAway(root, state) {
      var status = root.querySelector('.cc-widget__status');
      var button = root.querySelector('.cc-widget__away');
      status.textContent = state.label || '';
      root.querySelector('.cc-widget__help').style.display = state.away ? 'none' : '';
      button.textContent = state.away ? text('come_back') : text('go_away');
      button.setAttribute('aria-pressed', state.away ? 'true' : 'false');
      button.disabled = false;
      button.onclick = function () {
        button.disabled = true;
        call('POST', '/amocrm/widget/away', {away: !state.away}).then(function (next) {
          showAway(root, next);
        }, function (err) {
          status.textContent = failure(err);
          button.disabled = false;
        });
      };
    }

    function renderCard() {
      var lead = leadId();
      self.render_template({
        caption: {class_name: 'cc-widget__caption'},
        body: '',
        render: '<div class="cc-widget" data-cc-lead="' + lead + '">' +
          '<p class="cc-widget__status" role="status"></p>' +
          '<button type="button" class="button-input cc-widget__away" disabled></button>' +
          '<p class="cc-widget__help"></p>' +
          '<button type="button" class="button-input cc-widget__tab"></button></div>'
      });
      var root = document.querySelector('.cc-widget[data-cc-lead="' + lead + '"]');
      if (!root) {
        return;
      }
      root.querySelector('.cc-widget__help').textContent = text('away_help');
      root.querySelector('.cc-widget__status').textContent = text('loading');
      call('GET', '/amocrm/widget/away').then(function (state) {
        showAway(root, state);
      }, function (err) {
        root.querySelector('.cc-widget__status').textContent = failure(err);
      });
      var tab = root.querySelector('.cc-widget__tab');
      tab.textContent = text('open_tab');
      tab.onclick = function () {
        openPanel(tab, {page: 'card', lead_id: lead});
      };
    }

    /* The lead's page beside the card: the right column is too narrow for it, so a panel
       over the card's right side, closed by its button (or Escape). */
    function openPanel(opener, request) {
      var old = document.querySelector('.cc-widget__panel');
      if (old) {
        old.parentNode.removeChild(old);
      }
      var panel = document.createElement('div');
      panel.className = 'cc-widget__panel';
      panel.setAttribute('role', 'dialog');
      panel.setAttribute('aria-label', text('title'));
      panel.style.cssText = 'position:fixed;top:0;right:0;bottom:0;z-index:1000;' +
        'width:min(760px,95vw);background:#fff;box-shadow:0 0 24px rgba(0,0,0,.25);' +
        'display:flex;flex-direction:column';
      var close = document.createElement('button');
      close.type = 'button';
      close.className = 'button-input cc-widget__close';
      close.textContent = text('hide_tab');
      close.style.cssText = 'align-self:flex-end;margin:8px';
      var box = document.createElement('div');
      box.className = 'cc-widget__page';
      box.style.cssText = 'flex:1;padding:0 8px 8px';
      function shut(event) {
        if (!event || event.key === 'Escape' || event.type === 'click') {
          document.removeEventListener('keydown', shut);
          if (panel.parentNode) {
            panel.parentNode.removeChild(panel);
          }
          opener.focus();
        }
      }
      close.onclick = shut;
      document.addEventListener('keydown', shut);
      panel.appendChild(close);
      panel.appendChild(box);
      document.body.appendChild(panel);
      close.focus();
      openPage(box, request, Math.max(window.innerHeight - 70, 400));
    }

    function settingsInto(box, height) {
      var holder = document.createElement('div');
      holder.className = 'cc-widget__settings';
      box.appendChild(holder);
      openPage(holder, {page: 'settings'}, height);
    }

    this.callbacks = {
      render: function () {
        if (area() === 'lcard' && leadId()) {
          renderCard();
        }
        return true;
      },
      init: function () {
        return true;
      },
      bind_actions: function () {
        return true;
      },
      /* the widget's modal in Settings → Integrations: the app's pages under the fields */
      settings: function ($modal) {
        var body = $modal && $modal.find ? $modal.find('.widget_settings_block')[0] : null;
        if (body) {
          settingsInto(body, 560);
        }
        return true;
      },
      /* the widget's own page (advanced_settings): the app's pages, full size */
      advancedSettings: function () {
        var code = ((self.get_settings && self.get_settings()) || {}).widget_code;
        var box = document.getElementById('work-area-' + code) ||
          document.getElementById('work_area');
        if (box) {
          settingsInto(box, 900);
        }
        return true;
      },
      onSave: function () {
        return true;
      },
      destroy: function () {
      },
      dpSettings: function () {
      }
    };
    return this;
  };
});
