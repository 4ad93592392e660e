{#-
    Prediction tasks: the one definition labels, models and score names derive from.

    dbt var prediction_tasks is a list of
        {name, outcome: purchase | churn | spend, horizon_days, population: all | buyers | active,
         description}
    ml_labels gets one column per task, named after it; features.ml_prediction_tasks lists them
    for ml/ (which reads the same var from dbt_project.yml and refuses to train when the two
    disagree); segments that name a task that does not exist fail validation.

      purchase  1 when the person buys in [cutoff, cutoff + horizon_days), else 0
      churn     1 when the person does NOT buy in that window, else 0
      spend     revenue of the purchases in that window
    population: who the label is defined for (null elsewhere), as a condition on ml_features:
      all       everyone with a record before the cutoff
      buyers    persons with a purchase before the cutoff
      active    persons with a purchase in the label_active_days before the cutoff
    churn needs buyers or active: a person who never bought cannot stop buying.
-#}
{%- macro default_prediction_tasks() -%}
    {{ return([
        {'name': 'purchase_30d', 'outcome': 'purchase', 'horizon_days': 30, 'population': 'all',
         'description': 'Buys (online or in store) in the next 30 days.'},
        {'name': 'churn_90d', 'outcome': 'churn', 'horizon_days': 90, 'population': 'active',
         'description': 'A customer active in the past year makes no purchase in the next 90 days.'},
    ]) }}
{%- endmacro -%}

{%- macro prediction_tasks() -%}
    {%- set raw = var('prediction_tasks', none) -%}
    {%- set raw = default_prediction_tasks() if raw is none else raw -%}
    {%- if raw is string -%}
        {%- set raw = fromyaml(raw) -%}
    {%- endif -%}
    {%- if raw is mapping or raw is string or raw is not iterable or raw | length == 0 -%}
        {{ exceptions.raise_compiler_error(
            "dbt var prediction_tasks must be a non-empty list of tasks, got '" ~ raw ~ "'") }}
    {%- endif -%}
    {%- set tasks = [] -%}
    {%- set names = [] -%}
    {%- for item in raw -%}
        {%- set where = "dbt var prediction_tasks, task " ~ loop.index -%}
        {%- if item is not mapping -%}
            {{ exceptions.raise_compiler_error(where ~ ": expected a mapping, got '" ~ item ~ "'") }}
        {%- endif -%}
        {%- set unknown = item.keys() | reject('in', ['name', 'outcome', 'horizon_days',
            'population', 'description']) | list -%}
        {%- if unknown -%}
            {{ exceptions.raise_compiler_error(where ~ ": unknown key(s) " ~ unknown | join(', ')
                ~ "; allowed: name, outcome, horizon_days, population, description") }}
        {%- endif -%}
        {%- set name = item.get('name') | string -%}
        {%- if not modules.re.match('^[a-z][a-z0-9_]{0,62}$', name) -%}
            {{ exceptions.raise_compiler_error(where ~ ": name '" ~ name
                ~ "' must be lower-case letters, digits and _ (a column name)") }}
        {%- endif -%}
        {%- if name in names or name in ['person_id', 'cutoff_date', 'observed_days',
            'days_to_next_purchase'] -%}
            {{ exceptions.raise_compiler_error(where ~ ": name '" ~ name ~ "' is used twice") }}
        {%- endif -%}
        {%- set outcome = item.get('outcome') | string -%}
        {%- if outcome not in ['purchase', 'churn', 'spend'] -%}
            {{ exceptions.raise_compiler_error(where ~ " (" ~ name ~ "): outcome '" ~ outcome
                ~ "' must be purchase, churn or spend") }}
        {%- endif -%}
        {%- set horizon = item.get('horizon_days') -%}
        {%- if horizon is not number or horizon != horizon | int or horizon < 1 -%}
            {{ exceptions.raise_compiler_error(where ~ " (" ~ name ~ "): horizon_days '"
                ~ horizon ~ "' must be a whole number of days >= 1") }}
        {%- endif -%}
        {%- set population = item.get('population', 'active' if outcome == 'churn' else 'all')
            | string -%}
        {%- if population not in ['all', 'buyers', 'active'] -%}
            {{ exceptions.raise_compiler_error(where ~ " (" ~ name ~ "): population '"
                ~ population ~ "' must be all, buyers or active") }}
        {%- endif -%}
        {%- if outcome == 'churn' and population == 'all' -%}
            {{ exceptions.raise_compiler_error(where ~ " (" ~ name ~ "): churn needs population "
                ~ "buyers or active (someone who never bought cannot stop buying)") }}
        {%- endif -%}
        {%- do names.append(name) -%}
        {%- do tasks.append({'name': name, 'outcome': outcome, 'horizon_days': horizon | int,
            'population': population, 'description': item.get('description', '') | string}) -%}
    {%- endfor -%}
    {{ return(tasks) }}
{%- endmacro -%}

{#- The label window used when a task's horizon is longer than the history can label. -#}
{%- macro prediction_fallback_days() -%}
    {%- set value = var('prediction_fallback_days', 30) -%}
    {%- if value is not number or value != value | int or value < 1 -%}
        {{ exceptions.raise_compiler_error(
            "dbt var prediction_fallback_days must be a whole number of days >= 1, got '"
            ~ value ~ "'") }}
    {%- endif -%}
    {{ return(value | int) }}
{%- endmacro -%}

{#- Every label horizon the feature cutoffs must serve: the tasks' and the fallback. -#}
{%- macro prediction_horizons() -%}
    {%- set horizons = [prediction_fallback_days()] -%}
    {%- for task in prediction_tasks() -%}
        {%- do horizons.append(task.horizon_days) -%}
    {%- endfor -%}
    {{ return(horizons | unique | sort) }}
{%- endmacro -%}

{#- SQL condition on ml_features columns selecting the task's population; `alias` qualifies
    the columns (ml/ reads the unqualified form from features.ml_prediction_tasks). -#}
{%- macro task_population_sql(task, alias=none) -%}
    {%- set prefix = alias ~ '.' if alias else '' -%}
    {%- if task.population == 'buyers' -%}
        {{ return(prefix ~ 'frequency_orders > 0') }}
    {%- elif task.population == 'active' -%}
        {{ return(prefix ~ 'recency_days <= ' ~ profile_int_var('label_active_days')) }}
    {%- else -%}
        {{ return('1 = 1') }}
    {%- endif -%}
{%- endmacro -%}
