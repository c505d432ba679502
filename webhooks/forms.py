"""Dashboard forms for webhook endpoints; the rules (URL, types) are the services'."""

from django import forms

from fluxbill.core.forms import MomentField

from .choices import EVENT_TYPES


class EndpointForm(forms.Form):
    url = forms.CharField(max_length=2000, label="URL", widget=forms.URLInput(attrs={"placeholder": "https://…", "size": 60}))
    description = forms.CharField(max_length=500, required=False)
    event_types = forms.MultipleChoiceField(
        choices=[(t, t) for t in EVENT_TYPES if t != "webhook.test"], required=False, widget=forms.CheckboxSelectMultiple,
        label="Event types", help_text="None ticked: every type, including those added later.",
    )
    enabled = forms.BooleanField(required=False, initial=True)


class ReplayForm(forms.Form):
    since = MomentField(label="Since", help_text="Every event from this moment on (UTC) is delivered again, in order.")
