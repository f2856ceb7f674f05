"""A show page as the browser assembles it: the page, then each related list its panels fetch when opened."""

import re
from html import unescape

RELATED = re.compile(r'class="crm-related"[^>]*?data-url="([^"]+)"')


def related_urls(html):
    """The related lists a show page offers (one ``related`` URL per panel), in page order."""
    return [unescape(url) for url in RELATED.findall(html)]


class ShowPage:
    """The show page's response with its related lists' HTML appended (``status_code`` is the page's)."""

    def __init__(self, response, parts):
        self.status_code = response.status_code
        self.headers = response.headers
        self.parts = parts

    def get_data(self, as_text=False):
        text = "".join(self.parts)
        return text if as_text else text.encode()


def show_page(client, url):
    response = client.get(url)
    text = response.get_data(as_text=True)
    parts = [text]
    if response.status_code == 200:
        for related in related_urls(text):
            fragment = client.get(related)
            assert fragment.status_code == 200, (related, fragment.status_code)
            parts.append(fragment.get_data(as_text=True))
    return ShowPage(response, parts)
